// Live preview of a template in the admin: posts the form's text to the preview view and shows
// the rendered subject and bodies, or the errors, without saving anything.
(function () {
  "use strict";
  const panel = document.getElementById("template-preview");
  if (!panel) return;
  const form = panel.closest("form");
  const field = (name) => form.querySelector(`[name="${name}"]`);
  const errors = panel.querySelector(".preview-errors");
  const htmlBlock = panel.querySelector(".preview-html-block");
  let timer = null;
  let sequence = 0;

  function showErrors(byField) {
    errors.replaceChildren();
    for (const [name, messages] of Object.entries(byField)) {
      for (const message of messages) {
        const item = document.createElement("li");
        item.textContent = name === "__all__" ? message : `${name}: ${message}`;
        errors.append(item);
      }
    }
    errors.hidden = errors.children.length === 0;
  }

  async function refresh() {
    const mine = ++sequence;
    const data = new FormData();
    for (const name of ["type", "subject", "body", "html_body", "variables"]) {
      data.append(name, field(name) ? field(name).value : "");
    }
    data.append("context", document.getElementById("preview-context").value);
    data.append("csrfmiddlewaretoken", field("csrfmiddlewaretoken").value);
    let result;
    try {
      const response = await fetch(panel.dataset.previewUrl, { method: "POST", body: data, credentials: "same-origin" });
      result = await response.json();
    } catch (err) {
      result = { ok: false, errors: { __all__: ["The preview could not be reached: " + err] } };
    }
    if (mine !== sequence) return;  // a newer keystroke already asked again
    showErrors(result.ok ? {} : result.errors);
    panel.querySelector(".preview-output").hidden = !result.ok;
    panel.querySelector(".preview-subject").textContent = result.ok ? result.subject : "";
    panel.querySelector(".preview-body").textContent = result.ok ? result.body : "";
    htmlBlock.hidden = !(result.ok && result.html_body);
    panel.querySelector(".preview-html").srcdoc = result.ok ? result.html_body : "";
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  refresh();
})();
