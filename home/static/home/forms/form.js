/* Kairan forms: conditional display and "現在地を使う". Progressive: without this script every
   field shows and the server applies the same display conditions. */
(function () {
  "use strict";

  function selectedValues(form, name) {
    var values = [];
    form.querySelectorAll('[name="' + name + '"]').forEach(function (input) {
      if (input.disabled) {
        return;
      }
      if (input.type === "radio" || input.type === "checkbox") {
        if (input.checked) {
          values.push(input.value);
        }
      } else if (input.tagName === "SELECT") {
        Array.prototype.forEach.call(input.selectedOptions, function (option) {
          values.push(option.value);
        });
      } else if (input.value) {
        values.push(input.value);
      }
    });
    return values;
  }

  function applyConditions(form) {
    // Controllers always come before the fields they control, so one pass in document
    // order also settles chains (a hidden controller hides what depends on it).
    form.querySelectorAll("[data-kf-when]").forEach(function (item) {
      var controller = document.getElementById("kf-item-" + item.dataset.kfWhen);
      var wanted = (item.dataset.kfValues || "").split(" ");
      var show = false;
      if (controller && !controller.hidden) {
        show = selectedValues(form, item.dataset.kfWhen).some(function (value) {
          return wanted.indexOf(value) !== -1;
        });
      }
      item.hidden = !show;
      item.querySelectorAll("input, select, textarea, button").forEach(function (element) {
        element.disabled = !show;
      });
    });
  }

  function setUpLocation(field) {
    var button = field.querySelector("[data-kf-locate]");
    var status = field.querySelector("[data-kf-locate-status]");
    if (!button || !("geolocation" in navigator)) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      status.textContent = "現在地を調べています…";
      navigator.geolocation.getCurrentPosition(
        function (position) {
          field.querySelector('[data-kairan-location="lat"]').value = position.coords.latitude.toFixed(6);
          field.querySelector('[data-kairan-location="lng"]').value = position.coords.longitude.toFixed(6);
          status.textContent = "現在地を入れました。";
        },
        function () {
          status.textContent = "現在地がわかりませんでした。位置情報の利用を許可するか、数字で入力してください。";
        },
        { enableHighAccuracy: true, timeout: 15000 }
      );
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-kf-form]").forEach(function (form) {
      applyConditions(form);
      form.addEventListener("change", function () {
        applyConditions(form);
      });
      form.querySelectorAll(".kf-field--location").forEach(setUpLocation);
    });
    var summary = document.getElementById("kf-error-summary");
    if (summary) {
      summary.focus();
    }
  });
})();
