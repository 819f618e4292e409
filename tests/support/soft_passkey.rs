//! The tests' own passkey: a software WebAuthn authenticator over ring (ECDSA P-256, ES256)
//! that answers the options of `/auth/passkeys/*/begin` with the JSON a browser's
//! `PublicKeyCredential.toJSON()` gives.
//!
//! Registration: `clientDataJSON` (`webauthn.create`) and an attestation object of format
//! "none" (CBOR, through ciborium): authData = SHA-256(RP id) | flags (UP, UV, BE/BS as chosen,
//! AT) | counter | AAGUID (zeros) | credential id length | credential id | COSE key. Sign-in:
//! `authenticatorData`, an ASN.1 ECDSA signature over authData || SHA-256(clientDataJSON), and
//! the user handle the registration options gave (the account id).
//!
//! Every field a test wants to get wrong is public: the origin and RP id it claims, the counter
//! it sends next, the user handle.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ciborium::value::{Integer, Value as Cbor};
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const BE: u8 = 0x08;
const BS: u8 = 0x10;
const AT: u8 = 0x40;

pub struct SoftPasskey {
    /// The RP id whose SHA-256 goes into authData.
    pub rp_id: String,
    /// The origin written into clientDataJSON.
    pub origin: String,
    /// The credential id (random, 32 bytes).
    pub credential_id: Vec<u8>,
    /// The user handle sent with assertions (set from the registration options' user.id).
    pub user_handle: Vec<u8>,
    /// The signature counter the next assertion carries (then incremented).
    pub counter: u32,
    /// Backup eligible (a synced passkey: `swk`) and backed up; false: hardware-bound (`hwk`).
    pub synced: bool,
    /// Whether to claim user verification.
    pub user_verified: bool,
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

impl SoftPasskey {
    /// A new authenticator claiming `origin` for RP id `rp_id`; hardware-bound unless `synced`.
    pub fn new(rp_id: &str, origin: &str, synced: bool) -> SoftPasskey {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("P-256 key");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .expect("P-256 key pair");
        let mut credential_id = vec![0u8; 32];
        rng.fill(&mut credential_id).expect("random");
        SoftPasskey {
            rp_id: rp_id.into(),
            origin: origin.into(),
            credential_id,
            user_handle: Vec::new(),
            counter: 1,
            synced,
            user_verified: true,
            key,
            rng,
        }
    }

    /// The credential id as the API names it (base64url, no padding).
    pub fn id(&self) -> String {
        B64.encode(&self.credential_id)
    }

    fn flags(&self) -> u8 {
        let mut flags = UP;
        if self.user_verified {
            flags |= UV;
        }
        if self.synced {
            flags |= BE | BS;
        }
        flags
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        }))
        .expect("clientDataJSON")
    }

    /// The COSE_Key of the public key: EC2, ES256, P-256, x, y.
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.public_key().as_ref();
        assert_eq!(point.len(), 65, "uncompressed P-256 point");
        let int = |i: i64| Cbor::Integer(Integer::from(i));
        let map = Cbor::Map(vec![
            (int(1), int(2)),
            (int(3), int(-7)),
            (int(-1), int(1)),
            (int(-2), Cbor::Bytes(point[1..33].to_vec())),
            (int(-3), Cbor::Bytes(point[33..65].to_vec())),
        ]);
        let mut out = Vec::new();
        ciborium::into_writer(&map, &mut out).expect("CBOR");
        out
    }

    fn auth_data_head(&self, flags: u8) -> Vec<u8> {
        let mut data = digest(&SHA256, self.rp_id.as_bytes()).as_ref().to_vec();
        data.push(flags);
        data.extend_from_slice(&self.counter.to_be_bytes());
        data
    }

    /// The registration response to `options` (the `publicKey` options of register/begin).
    pub fn register(&mut self, options: &Value) -> Value {
        let challenge = options["challenge"].as_str().expect("challenge");
        self.user_handle = B64
            .decode(options["user"]["id"].as_str().expect("user.id"))
            .expect("user.id is base64url");
        let client_data = self.client_data("webauthn.create", challenge);
        let mut auth_data = self.auth_data_head(self.flags() | AT);
        auth_data.extend_from_slice(&[0u8; 16]);
        auth_data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&self.cose_key());
        let attestation = Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(Vec::new())),
            (
                Cbor::Text("authData".into()),
                Cbor::Bytes(auth_data.clone()),
            ),
        ]);
        // Like a real authenticator's: the next signature counts on from this one.
        self.counter += 1;
        let mut attestation_object = Vec::new();
        ciborium::into_writer(&attestation, &mut attestation_object).expect("CBOR");
        json!({
            "id": self.id(),
            "rawId": self.id(),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": B64.encode(&client_data),
                "attestationObject": B64.encode(&attestation_object),
                "authenticatorData": B64.encode(&auth_data),
                "transports": ["internal"],
                "publicKeyAlgorithm": -7,
            },
            "clientExtensionResults": {},
        })
    }

    /// The assertion answering `options` (the `publicKey` options of login/begin), with the
    /// current counter, which then moves on by one.
    pub fn assert(&mut self, options: &Value) -> Value {
        let challenge = options["challenge"].as_str().expect("challenge");
        let client_data = self.client_data("webauthn.get", challenge);
        let auth_data = self.auth_data_head(self.flags());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(digest(&SHA256, &client_data).as_ref());
        let signature = self.key.sign(&self.rng, &signed).expect("sign");
        self.counter += 1;
        json!({
            "id": self.id(),
            "rawId": self.id(),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": B64.encode(&client_data),
                "authenticatorData": B64.encode(&auth_data),
                "signature": B64.encode(signature.as_ref()),
                "userHandle": B64.encode(&self.user_handle),
            },
            "clientExtensionResults": {},
        })
    }
}
