// Upload page: drag and drop or choose many files; each uploads on its own with a progress bar,
// then its processing status is polled until it is ready or failed. No framework, no build step.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  const input = document.getElementById("upload-input");
  const zone = form.querySelector(".dropzone");
  const list = document.getElementById("upload-list");
  const card = document.getElementById("upload-list-card");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const maxBytes = Number(form.dataset.maxBytes);
  const queue = [];
  let active = 0;
  const PARALLEL = 3;

  function row(file) {
    const li = document.createElement("li");
    li.className = "upload";
    li.dataset.filename = file.name;
    li.innerHTML = '<span class="name"></span><progress max="100" value="0"></progress><span class="state">waiting</span>';
    li.querySelector(".name").textContent = file.name;
    list.appendChild(li);
    card.hidden = false;
    return li;
  }

  function setState(li, text, kind) {
    const state = li.querySelector(".state");
    state.textContent = text;
    li.dataset.state = kind;
  }

  function poll(li, statusUrl) {
    fetch(statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => r.json())
      .then((s) => {
        if (s.status === "ready") {
          setState(li, "ready", "ready");
          const link = document.createElement("a");
          link.href = "/images/" + s.id + "/";
          link.textContent = "open";
          li.querySelector(".state").append(" · ", link);
        } else if (s.status === "failed") {
          setState(li, "failed: " + (s.failure_reason || s.failed_stage), "failed");
        } else {
          setState(li, s.status === "processing" ? "processing…" : "queued…", "processing");
          setTimeout(() => poll(li, statusUrl), 700);
        }
      })
      .catch(() => setTimeout(() => poll(li, statusUrl), 1500));
  }

  function upload(file, li) {
    active += 1;
    const data = new FormData();
    data.append("file", file);
    const tags = document.getElementById("upload-tags").value;
    if (tags) data.append("tags", tags);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRFToken", csrf);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) li.querySelector("progress").value = Math.round((e.loaded / e.total) * 100);
      setState(li, "uploading…", "uploading");
    };
    xhr.onload = () => {
      active -= 1;
      next();
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (err) { body = {}; }
      if (xhr.status === 202) {
        li.querySelector("progress").value = 100;
        poll(li, body.status_url);
      } else if (xhr.status === 429 && body.error && body.error.code === "rate_limited") {
        // The plan's uploads per minute are used up: wait as told, then send the file again.
        const wait = parseInt(xhr.getResponseHeader("Retry-After") || "5", 10);
        setState(li, "rate limit reached, retrying in " + wait + " s…", "processing");
        setTimeout(() => { queue.push([file, li]); next(); }, wait * 1000);
      } else {
        const message = body.error ? body.error.message : "upload failed (" + xhr.status + ")";
        setState(li, message, "rejected");
      }
    };
    xhr.onerror = () => { active -= 1; next(); setState(li, "network error", "rejected"); };
    xhr.send(data);
  }

  function next() {
    while (active < PARALLEL && queue.length) {
      const [file, li] = queue.shift();
      upload(file, li);
    }
  }

  function add(files) {
    for (const file of files) {
      const li = row(file);
      if (file.size > maxBytes) { setState(li, "too large for this workspace", "rejected"); continue; }
      queue.push([file, li]);
    }
    next();
  }

  input.addEventListener("change", () => { add(input.files); input.value = ""; });
  ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (e) => { e.preventDefault(); zone.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => zone.addEventListener(t, (e) => { e.preventDefault(); zone.classList.remove("over"); }));
  zone.addEventListener("drop", (e) => add(e.dataTransfer.files));
})();
