//! Reading the admin listener's `/metrics` (Prometheus text format).

use super::TestServer;

impl TestServer {
    /// The `/metrics` page, checking it is Prometheus text format.
    pub async fn metrics_text(&self) -> String {
        let r = self.send(self.http.get(self.admin_url("/metrics"))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("text/plain; version=0.0.4")),
            "{:?}",
            r.header("content-type")
        );
        r.text
    }

    /// The value of one series now (panics when it is absent).
    pub async fn metric(&self, series: &str) -> f64 {
        let text = self.metrics_text().await;
        sample(&text, series).unwrap_or_else(|| panic!("no {series} in /metrics:\n{text}"))
    }
}

/// The value of one sample line (`name{labels} value`), if present.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}
