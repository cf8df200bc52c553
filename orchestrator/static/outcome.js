// The answer named by the mail's link is recorded as the page loads: one click for a person,
// nothing for a mail scanner that fetches links without running scripts.
"use strict";
const form = document.querySelector("form[data-submit-on-load]");
if (form) {
  form.requestSubmit();
}
