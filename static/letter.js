// The printed invitation letter: its Print button opens the browser's print dialog (Ctrl+P works too).
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
