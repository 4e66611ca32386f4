// The page's [autofocus] field has the focus as soon as the document is parsed, and keys
// typed before that (a fast agent, a card reader typing like a keyboard) land in it.
//
// The browser applies autofocus at its next rendering step, which on a busy counter PC can
// come after the first key press: that key went to the page's body and was lost (an ID of
// 14 digits arrived as 13). Enter and other keys that act are never redirected: only a
// character meant for a text field, while nothing else has the focus.
(function () {
  const TEXT_TYPES = ["", "text", "search", "tel", "number", "password", "email"];

  function nothingFocused() {
    const active = document.activeElement;
    return !active || active === document.body || active === document.documentElement;
  }

  function autofocusField() {
    const field = document.querySelector("[autofocus]");
    if (!field || field.disabled || field.readOnly) return null;
    return field;
  }

  function takesText(field) {
    if (field.tagName === "TEXTAREA") return true;
    return field.tagName === "INPUT" && TEXT_TYPES.includes((field.getAttribute("type") || "").toLowerCase());
  }

  function focusNow() {
    const field = autofocusField();
    if (field && nothingFocused()) field.focus();
  }

  document.addEventListener(
    "keydown",
    (event) => {
      if (!nothingFocused() || event.isComposing) return;
      if (event.key.length !== 1 || event.ctrlKey || event.metaKey || event.altKey) return;
      const field = autofocusField();
      // Focused during keydown, the field receives this key's character.
      if (field && takesText(field)) field.focus();
    },
    true,
  );
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusNow);
  } else {
    focusNow();
  }
})();
