// Copy buttons: <button data-copy="#id"> copies the text of the element #id to the clipboard.
(function () {
  "use strict";

  // navigator.clipboard exists only on HTTPS and localhost; a Studio served over plain HTTP on
  // another address falls back to selecting the text and the older copy command.
  async function copyText(el) {
    const text = el.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    const range = document.createRange();
    range.selectNodeContents(el);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    const copied = document.execCommand("copy");
    if (!copied) throw new Error("copy refused");
  }

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const target = document.querySelector(button.dataset.copy);
    if (!target) return;
    const label = button.querySelector("[data-copy-label]") || button;
    const before = label.dataset.label || label.textContent;
    label.dataset.label = before;
    try {
      await copyText(target);
      label.textContent = "Copied";
      button.classList.add("copied");
    } catch (err) {
      label.textContent = "Select and copy";
    }
    clearTimeout(button._copyTimer);
    button._copyTimer = setTimeout(() => {
      label.textContent = before;
      button.classList.remove("copied");
    }, 1600);
  });
})();
