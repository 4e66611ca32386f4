// Shows whether the dashboard is live, and applies the pushed boards (dashboard/diffs.py).
// The socket sends the whole board on every (re)connect; then each push carries the parts
// that changed since the push numbered data-base. A push that does not follow the board
// shown (one was missed, or a form swapped the board) is dropped and the whole board asked for.
(function () {
  const live = document.getElementById("live");
  if (!live) return;
  let shown = null; // data-seq of the board on the page; null: none the socket sent
  function show(state) {
    live.querySelectorAll("[data-when]").forEach((el) => { el.hidden = el.dataset.when !== state; });
    live.dataset.state = state;
  }
  function swapParts(push) {
    for (const wrapper of push.content.children) {
      const part = wrapper.content.firstElementChild;
      const target = part && document.getElementById(part.id);
      if (!target) return false;
      htmx.swap(target, part.outerHTML, { swapStyle: "outerHTML" });
    }
    return true;
  }
  live.addEventListener("htmx:wsBeforeMessage", (event) => {
    const box = document.createElement("template");
    box.innerHTML = event.detail.message;
    const push = box.content.firstElementChild;
    if (!push || push.tagName !== "TEMPLATE" || !push.dataset.seq) return;
    event.preventDefault();
    const { seq, base } = push.dataset;
    if (base === undefined || base === shown) {
      shown = swapParts(push) ? seq : null;
    } else if (seq === shown) {
      return; // the whole board sent on connect already showed it
    } else {
      shown = null;
    }
    if (shown === null) event.detail.socketWrapper.send("board");
    live.dataset.seq = shown ?? "";
  });
  live.addEventListener("htmx:wsOpen", () => show("live"));
  live.addEventListener("htmx:wsClose", () => { shown = null; show("offline"); });
  live.addEventListener("htmx:wsError", () => show("offline"));
  // A form (the approval queue) swapped the board over HTTP: its figures are not a push's.
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target && event.detail.target.id === "board") shown = null;
  });
  show("offline");
})();
