// Print the receipt PDF through a hidden frame, so the browser's print dialog opens on it.
(function () {
  const button = document.getElementById("print-receipt");
  if (!button) return;
  function print() {
    const frame = document.createElement("iframe");
    frame.style.position = "fixed";
    frame.style.width = "0";
    frame.style.height = "0";
    frame.style.border = "0";
    // A helper, not content: named (axe frame-title) and kept out of the tab order and reading.
    frame.title = button.textContent.trim();
    frame.tabIndex = -1;
    frame.setAttribute("aria-hidden", "true");
    frame.src = button.dataset.pdf;
    frame.addEventListener("load", () => {
      try { frame.contentWindow.focus(); frame.contentWindow.print(); } catch (e) { window.open(button.dataset.pdf); }
    });
    document.body.appendChild(frame);
  }
  button.addEventListener("click", print);
  if (button.dataset.auto === "1") print();
})();
