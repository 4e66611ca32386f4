// Shows whether the dashboard is live; the board refreshes itself on every (re)connect.
(function () {
  const live = document.getElementById("live");
  if (!live) return;
  function show(state) {
    live.querySelectorAll("[data-when]").forEach((el) => { el.hidden = el.dataset.when !== state; });
    live.dataset.state = state;
  }
  live.addEventListener("htmx:wsOpen", () => show("live"));
  live.addEventListener("htmx:wsClose", () => show("offline"));
  live.addEventListener("htmx:wsError", () => show("offline"));
  show("offline");
})();
