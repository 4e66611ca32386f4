// The wallet QR page: once the status says "paid" (htmx swaps it in), the receipt is
// printed as for any payment, by posting its print form. Without this script the agent
// presses the form's button.
(function () {
  function printIfPaid(root) {
    const form = (root || document).querySelector("form[data-autosubmit]");
    if (form && !form.dataset.sent) {
      form.dataset.sent = "1";
      form.requestSubmit();
    }
  }
  document.addEventListener("htmx:afterSwap", function (event) {
    printIfPaid(document);
  });
  document.addEventListener("DOMContentLoaded", function () {
    printIfPaid(document);
  });
})();
