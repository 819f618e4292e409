// edgeauth sign-in portal: passkeys (WebAuthn). The portal's only script,
// served from /auth/ui/static/passkey.js; the pages carry no inline script.
//
// Progressive enhancement: the passkey controls are `hidden` in the HTML and
// shown here only when the browser has WebAuthn with its JSON helpers
// (PublicKeyCredential.parseRequestOptionsFromJSON and friends). Everything
// the script needs (form tokens, URLs, texts) is in the page: hidden inputs
// and data- attributes. The ceremonies end in ordinary form posts, so the
// server answers with pages and redirects as for every other form.
(function () {
  'use strict';

  var PKC = window.PublicKeyCredential;
  if (
    !PKC ||
    typeof PKC.parseRequestOptionsFromJSON !== 'function' ||
    typeof PKC.parseCreationOptionsFromJSON !== 'function' ||
    !navigator.credentials
  ) {
    return;
  }

  function field(form, name) {
    return form.elements.namedItem(name);
  }

  function showError(box, text) {
    if (!box) return;
    box.textContent = text || box.getAttribute('data-text') || '';
    box.hidden = false;
  }

  // `options` as the JSON API sends it: the `publicKey` member, or the
  // whole `{publicKey: …}` object.
  function publicKeyJSON(options) {
    return options && options.publicKey ? options.publicKey : options;
  }

  // The JSON answer of `response`, or null.
  function answer(response) {
    return response.json().catch(function () {
      return null;
    });
  }

  // A form's own submit (a control named "submit" cannot shadow it), which
  // does not fire the submit event again.
  function submit(form) {
    HTMLFormElement.prototype.submit.call(form);
  }

  // ---------------------------------------------------------- sign-in page
  var signIn = document.getElementById('passkey-signin');
  var signInForm = document.getElementById('passkey-form');
  if (signIn && signInForm) {
    var button = document.getElementById('passkey-button');
    var signInError = document.getElementById('passkey-error');
    signIn.hidden = false;
    button.addEventListener('click', function () {
      button.disabled = true;
      signInError.hidden = true;
      fetch(signInForm.getAttribute('data-begin'), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
        credentials: 'same-origin',
        cache: 'no-store',
      })
        .then(function (response) {
          return answer(response).then(function (body) {
            if (!response.ok || !body || !body.challenge_id) {
              throw new Error('begin: ' + response.status);
            }
            var publicKey = PKC.parseRequestOptionsFromJSON(publicKeyJSON(body.options));
            return navigator.credentials.get({ publicKey: publicKey }).then(function (credential) {
              if (!credential) throw new Error('no credential');
              field(signInForm, 'challenge_id').value = body.challenge_id;
              field(signInForm, 'credential').value = JSON.stringify(credential.toJSON());
              submit(signInForm);
            });
          });
        })
        .catch(function () {
          showError(signInError);
          button.disabled = false;
        });
    });
  }

  // ---------------------------------------------------------- account page
  var add = document.getElementById('passkey-add');
  if (add) {
    var addError = document.getElementById('passkey-add-error');
    var unsupported = document.getElementById('passkey-unsupported');
    if (unsupported) unsupported.hidden = true;
    add.hidden = false;
    add.addEventListener('submit', function (event) {
      event.preventDefault();
      var addButton = add.querySelector('button[type="submit"]');
      addButton.disabled = true;
      addError.hidden = true;
      var body = new URLSearchParams();
      body.set('csrf', field(add, 'csrf').value);
      fetch(add.getAttribute('data-begin'), {
        method: 'POST',
        body: body,
        credentials: 'same-origin',
        cache: 'no-store',
      })
        .then(function (response) {
          return answer(response).then(function (reply) {
            if (!response.ok || !reply || !reply.challenge_id) {
              var failure = new Error('begin: ' + response.status);
              // The server's own words (e.g. "sign in again") when it gave some.
              failure.text = reply && reply.message;
              throw failure;
            }
            var publicKey = PKC.parseCreationOptionsFromJSON(publicKeyJSON(reply.options));
            return navigator.credentials.create({ publicKey: publicKey }).then(function (credential) {
              if (!credential) throw new Error('no credential');
              field(add, 'challenge_id').value = reply.challenge_id;
              field(add, 'credential').value = JSON.stringify(credential.toJSON());
              submit(add);
            });
          });
        })
        .catch(function (error) {
          showError(addError, error && error.text);
          addButton.disabled = false;
        });
    });
  }
})();
