// Live preview of a template in the admin: posts the form's text to the preview view and shows
// the rendered subject and bodies, or the errors, without saving anything.
//
// Nothing is reported about a field before it is touched (an empty add page shows no errors), errors
// name the field by its label, and the sample context follows the variables as they are declared
// (the view answers the context it used: the values typed, and examples for new variables).
(function () {
  "use strict";
  const panel = document.getElementById("template-preview");
  if (!panel) return;
  const form = panel.closest("form");
  const field = (name) => form.querySelector(`[name="${name}"]`);
  const errors = panel.querySelector(".preview-errors");
  const hint = panel.querySelector(".preview-hint");
  const output = panel.querySelector(".preview-output");
  const htmlBlock = panel.querySelector(".preview-html-block");
  const contextBox = document.getElementById("preview-context");
  const sources = ["type", "subject", "body", "html_body", "variables"];
  // A field counts once it has a value or the person has changed it.
  const touched = new Set(sources.filter((name) => field(name) && field(name).value.trim() !== ""));
  let timer = null;
  let sequence = 0;

  function labelOf(name) {
    if (name === "context") return "Sample context";
    const label = form.querySelector(`label[for="id_${name}"]`);
    return label ? label.textContent.replace(/:\s*$/, "").trim() : name;
  }

  function showErrors(byField) {
    errors.replaceChildren();
    for (const [name, messages] of Object.entries(byField)) {
      for (const message of messages) {
        const item = document.createElement("li");
        item.textContent = name === "__all__" ? message : `${labelOf(name)}: ${message}`;
        errors.append(item);
      }
    }
    errors.hidden = errors.children.length === 0;
  }

  function shown(byField) {
    // Errors about fields not yet touched wait until they are.
    return Object.fromEntries(Object.entries(byField).filter(
      ([name]) => !sources.includes(name) || touched.has(name)));
  }

  async function refresh() {
    const mine = ++sequence;
    const data = new FormData();
    for (const name of sources) {
      data.append(name, field(name) ? field(name).value : "");
    }
    data.append("context", contextBox.value);
    data.append("csrfmiddlewaretoken", field("csrfmiddlewaretoken").value);
    let result;
    try {
      const response = await fetch(panel.dataset.previewUrl, { method: "POST", body: data, credentials: "same-origin" });
      result = await response.json();
    } catch (err) {
      result = { ok: false, errors: { __all__: ["The preview could not be reached: " + err] } };
    }
    if (mine !== sequence) return;  // a newer keystroke already asked again
    const reported = result.ok ? {} : shown(result.errors);
    showErrors(reported);
    hint.hidden = result.ok || Object.keys(reported).length > 0;
    output.hidden = !result.ok;
    panel.querySelector(".preview-subject").textContent = result.ok ? result.subject : "";
    panel.querySelector(".preview-body").textContent = result.ok ? result.body : "";
    htmlBlock.hidden = !(result.ok && result.html_body);
    panel.querySelector(".preview-html").srcdoc = result.ok ? result.html_body : "";
    if (result.ok && document.activeElement !== contextBox) {
      const text = JSON.stringify(result.context, null, 2);
      if (contextBox.value !== text) contextBox.value = text;
    }
  }

  function schedule(event) {
    if (event && event.target && sources.includes(event.target.name)) touched.add(event.target.name);
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  refresh();
})();
