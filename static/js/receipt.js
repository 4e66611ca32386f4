// Print the receipt. A POST records the print (the original, then counted copies) and
// answers with that print's own PDF link; a hidden frame loads it and opens the print
// dialog on it (a counter PC started with --kiosk-printing prints it at once).
// Without this script the form opens the printed PDF in a new tab.
(function () {
  const form = document.getElementById("print-form");
  const button = document.getElementById("print-receipt");
  if (!form || !button) return;
  const status = document.getElementById("print-status");
  const error = document.getElementById("print-error");
  let frame = null;

  function fail(message) {
    error.textContent = message || button.dataset.failed;
    error.hidden = false;
    button.disabled = false;
  }

  function printInFrame(url) {
    if (frame) frame.remove();
    frame = document.createElement("iframe");
    // Not display:none: a hidden plugin is not loaded, and would print blank.
    frame.style.position = "fixed";
    frame.style.width = "0";
    frame.style.height = "0";
    frame.style.border = "0";
    // A helper, not content: named (axe frame-title) and kept out of the tab order and reading.
    frame.title = button.textContent.trim();
    frame.tabIndex = -1;
    frame.setAttribute("aria-hidden", "true");
    frame.src = url;
    frame.addEventListener("load", () => {
      try {
        frame.contentWindow.focus();
        frame.contentWindow.print(); // returns when the dialog closes
      } catch (e) {
        window.open(url);
      }
      button.disabled = false;
    });
    document.body.appendChild(frame);
  }

  async function print() {
    if (button.disabled) return; // one print per press, even pressed twice
    button.disabled = true;
    error.hidden = true;
    const body = new FormData(form);
    body.set("layout", button.value);
    let answer;
    let response;
    try {
      response = await fetch(form.action, {
        method: "POST",
        body: body,
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      answer = await response.json();
    } catch (e) {
      fail(); // no answer, or not ours (a login page after the session expired)
      return;
    }
    if (!response.ok) {
      fail(answer.error);
      return;
    }
    status.innerHTML = answer.status; // rendered (and escaped) by the server's template
    printInFrame(answer.pdf);
  }

  form.addEventListener("submit", (event) => {
    if (event.submitter !== button) return; // A4: the form opens it in a new tab
    event.preventDefault();
    print();
  });
  // A payment just posted comes with its original's print recorded (data-print): the
  // frame loads it at once. The page then names its own address, so that a reload
  // reads the receipt rather than posting the payment again.
  if (button.dataset.page) history.replaceState(null, "", button.dataset.page);
  if (button.dataset.print) {
    button.disabled = true;
    printInFrame(button.dataset.print);
  }
  // Only while the original is unprinted does the server ask for it (data-auto).
  else if (button.dataset.auto === "1") print();
})();
