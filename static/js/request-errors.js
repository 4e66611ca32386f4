// A request htmx sends in the background (a type-ahead search, a panel) swaps nothing when
// it fails, so the person would see no answer at all. Say so in the page's alert instead:
// the server's own reason when it gave one (an error page's message, or a plain-text
// refusal), otherwise that no answer came. The next successful request clears it.
(function () {
  function alertBox() {
    return document.getElementById("request-error");
  }

  function show(text) {
    const box = alertBox();
    if (!box) return;
    box.textContent = text;
    box.hidden = false;
  }

  function serverReason(xhr) {
    const type = xhr.getResponseHeader("Content-Type") || "";
    if (type.startsWith("text/plain")) return xhr.responseText.trim().slice(0, 300);
    if (!type.startsWith("text/html")) return "";
    const page = new DOMParser().parseFromString(xhr.responseText, "text/html");
    // Error pages put their message in the card's first paragraph; a fragment, in its first.
    const reason = page.querySelector("main .card p") || page.querySelector("body p");
    return reason ? reason.textContent.trim().slice(0, 300) : "";
  }

  document.addEventListener("htmx:responseError", (event) => {
    const box = alertBox();
    if (box) show(serverReason(event.detail.xhr) || box.dataset.responseError);
  });
  document.addEventListener("htmx:sendError", () => {
    const box = alertBox();
    if (box) show(box.dataset.sendError);
  });
  document.addEventListener("htmx:afterRequest", (event) => {
    const box = alertBox();
    if (box && event.detail.successful) box.hidden = true;
  });
})();
