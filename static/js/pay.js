// The change due, worked out as the agent types the cash tendered (the total is on the
// form). Only a help to the eye: the server works it out again when the payment is posted.
(function () {
  // The button names what it does for the method chosen ("Show the QR" for a wallet).
  const button = document.getElementById("pay-button");
  const labels = document.getElementById("pay-buttons");
  if (button && labels) {
    const byMethod = JSON.parse(labels.textContent);
    const relabel = () => {
      const chosen = document.querySelector("input[name=method]:checked");
      if (chosen && byMethod[chosen.value]) button.textContent = byMethod[chosen.value];
    };
    document.querySelectorAll("input[name=method]").forEach((radio) => radio.addEventListener("change", relabel));
    relabel();
  }

  const total = document.getElementById("pay-total");
  const output = document.getElementById("pay-change");
  const input = document.querySelector("input[name=tendered]");
  if (!total || !output || !input) return;
  const due = parseInt(total.dataset.piastres, 10);
  const toAscii = (s) => s.replace(/[٠-٩]/g, (d) => d.charCodeAt(0) - 0x0660).replace(/[۰-۹]/g, (d) => d.charCodeAt(0) - 0x06f0);
  const fmt = (p) => Math.floor(p / 100).toLocaleString("en-US") + "." + String(p % 100).padStart(2, "0");

  function piastres(text) {
    const plain = toAscii(text).replace(/[٫]/g, ".").replace(/[\s,٬]/g, "");
    const match = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(plain);
    if (!match) return null;
    return parseInt(match[1], 10) * 100 + parseInt((match[2] || "0").padEnd(2, "0"), 10);
  }

  function update() {
    const tendered = piastres(input.value);
    if (tendered === null) output.textContent = "";
    else if (tendered < due) output.textContent = output.dataset.short;
    else output.textContent = fmt(tendered - due);
  }
  input.addEventListener("input", update);
  update();
})();
