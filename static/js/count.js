// Totals the blind count as the agent types; digits typed in Arabic-Indic are read too.
(function () {
  const form = document.getElementById("count-form");
  if (!form) return;
  const toAscii = (s) => s.replace(/[٠-٩]/g, (d) => d.charCodeAt(0) - 0x0660).replace(/[۰-۹]/g, (d) => d.charCodeAt(0) - 0x06f0);
  const fmt = (p) => (Math.floor(p / 100)).toLocaleString("en-US") + "." + String(p % 100).padStart(2, "0");
  function update() {
    let total = 0;
    form.querySelectorAll("input.count").forEach((input) => {
      const qty = parseInt(toAscii(input.value || "0"), 10);
      const sub = Number.isFinite(qty) && qty > 0 ? qty * parseInt(input.dataset.value, 10) : 0;
      total += sub;
      const cell = form.querySelector(`[data-subtotal-for="${input.id}"]`);
      if (cell) cell.textContent = fmt(sub);
    });
    document.getElementById("count-total").textContent = fmt(total);
  }
  form.addEventListener("input", update);
  update();
})();
