// The list upload form: a CSV file or a pasted list, checked here before it is sent so a file
// that is too large is refused at once instead of after minutes of uploading.
(function () {
  "use strict";

  function size(bytes) {
    if (bytes >= 1048576) return (bytes / 1048576).toFixed(1) + " MB";
    if (bytes >= 1024) return Math.round(bytes / 1024) + " KB";
    return bytes + " bytes";
  }

  function uploadForm() {
    const boot = Studio.jsonData("upload-data") || {};
    return {
      mode: boot.mode || "file",
      text: boot.text || "",
      file: null,
      dragging: false,
      problem: "",
      submitting: false,

      chose(event) {
        const files = event.target.files;
        this.file = files && files.length ? files[0] : null;
        this.problem = this.file && this.file.size > boot.max_bytes
          ? "The file is " + size(this.file.size) + "; a list may be at most " + size(boot.max_bytes) + ". Split it into smaller files."
          : "";
      },
      get fileText() {
        return this.file ? this.file.name + " · " + size(this.file.size) : "";
      },
      get lines() {
        const n = this.text.split(/\r?\n/).filter((line) => line.trim()).length;
        return n ? Studio.number(n) + (n === 1 ? " line" : " lines") : "";
      },
      // Browsers send a textarea's line breaks as CRLF: that is the size the server sees.
      textBytes() {
        return new Blob([this.text.replace(/\r?\n/g, "\r\n")]).size;
      },
      check(event) {
        if (this.mode === "file" && !this.file) {
          this.problem = "Choose a CSV file, or paste identifiers instead.";
        } else if (this.mode === "file" && this.file.size > boot.max_bytes) {
          this.problem = "The file is " + size(this.file.size) + "; a list may be at most " + size(boot.max_bytes) + ".";
        } else if (this.mode === "text" && !this.text.trim()) {
          this.problem = "Paste identifiers, one a line, or upload a CSV file instead.";
        } else if (this.mode === "text" && this.textBytes() > boot.max_text_bytes) {
          this.problem = "The pasted list is " + size(this.textBytes()) + "; paste at most " + size(boot.max_text_bytes) + ", or upload it as a CSV file.";
        } else {
          this.problem = "";
          this.submitting = true;
          return;
        }
        event.preventDefault();
      },
    };
  }

  document.addEventListener("alpine:init", () => {
    window.Alpine.data("uploadForm", uploadForm);
  });
})();
