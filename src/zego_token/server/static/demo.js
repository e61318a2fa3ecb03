// The demo page: ZEGO's client-side flow against this server, in plain JavaScript.
// It fetches a token with the guide's exact snippet, composes the kit token the way the UIKit's
// generateKitTokenForProduction does, and shows the demo-only decoded view with a countdown.
"use strict";

(() => {
  const serverUrl = new URL("/api/token", window.location.href).href;
  const inspectUrl = new URL("/api/debug/inspect", window.location.href).href;

  // The guide's snippet puts the user ID in the URL unescaped, so the page only lets through
  // IDs that need no escaping; ZEGO's own rule for room IDs is wider but still ASCII.
  const URL_SAFE_ID = /^[A-Za-z0-9_.~-]+$/;
  const ZEGO_ID = /^[0-9A-Za-z~!@#$%^&*()_+=\-`;',.<>/\\]+$/;
  const MAX_USER_ID_BYTES = 64;
  const MAX_ROOM_ID_BYTES = 128;
  const MAX_USER_NAME_BYTES = 256;

  const $ = (id) => document.getElementById(id);
  const utf8Bytes = (text) => new TextEncoder().encode(text).length;
  let countdownTimer = 0;

  function setStatus(text, kind) {
    const status = $("status");
    status.textContent = text;
    status.className = kind ? `status ${kind}` : "status";
  }

  function invalid(input, message) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
    throw new Error(message);
  }

  function readForm() {
    for (const input of document.querySelectorAll("#token-form input")) {
      input.removeAttribute("aria-invalid");
    }
    const userID = $("user-id").value.trim();
    const userName = $("user-name").value;
    const roomID = $("room-id").value.trim();
    if (!URL_SAFE_ID.test(userID)) {
      invalid($("user-id"), "User ID: use letters, digits and - _ . ~ only (it goes into the URL as it is).");
    }
    if (utf8Bytes(userID) > MAX_USER_ID_BYTES) {
      invalid($("user-id"), `User ID: at most ${MAX_USER_ID_BYTES} bytes.`);
    }
    if (!ZEGO_ID.test(roomID)) {
      invalid($("room-id"), "Room ID: use digits, English letters and ~!@#$%^&*()_+=-`;',.<>/\\ only.");
    }
    if (utf8Bytes(roomID) > MAX_ROOM_ID_BYTES) {
      invalid($("room-id"), `Room ID: at most ${MAX_ROOM_ID_BYTES} bytes.`);
    }
    if (utf8Bytes(userName) > MAX_USER_NAME_BYTES) {
      invalid($("user-name"), `User name: at most ${MAX_USER_NAME_BYTES} bytes of UTF-8.`);
    }
    return { userID, userName, roomID, strict: $("strict").checked };
  }

  function requestToken(userID, roomID, strict) {
    if (!strict) {
      // ZEGO's guide, word for word: what every UIKit app runs against its app server.
      return fetch(`${serverUrl}?userID=${userID}&expired_ts=86400`);
    }
    const query = new URLSearchParams({ userID, expired_ts: "86400", roomID, login: "1", publish: "1" });
    return fetch(`${serverUrl}?${query}`);
  }

  // The server answers errors as {"error": {"code", "message"}}; show the message, it says what to fix.
  async function readJson(response) {
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      throw new Error(`${response.status} ${response.statusText}: the answer is not JSON`);
    }
    if (!response.ok) {
      const error = body && body.error;
      throw new Error(error ? `${error.message} (${error.code})` : `${response.status} ${response.statusText}`);
    }
    return body;
  }

  // Same bytes as ZegoUIKitPrebuilt.generateKitTokenForProduction: the token, "#", and base64
  // of compact JSON in this key order, with the user name percent-encoded so btoa sees ASCII.
  function kitTokenForProduction(appID, token, roomID, userID, userName) {
    const info = JSON.stringify({ userID, roomID, userName: encodeURIComponent(userName), appID });
    return `${token}#${btoa(info)}`;
  }

  function when(unixSeconds) {
    return `${new Date(unixSeconds * 1000).toISOString().replace(".000Z", "Z")} (${unixSeconds})`;
  }

  function describePrivileges(privileges) {
    if (!privileges) {
      return "none: a basic token, valid in any room for any stream";
    }
    const streams = privileges.stream_ids == null ? "any stream" : privileges.stream_ids.join(", ");
    return [
      `room ${privileges.room_id}`,
      `login ${privileges.login ? "yes" : "no"}`,
      `publish ${privileges.publish ? `yes (${streams})` : "no"}`,
    ].join(" · ");
  }

  function startCountdown(expire) {
    const cell = $("d-countdown");
    window.clearInterval(countdownTimer);
    const tick = () => {
      const left = Math.round(expire - Date.now() / 1000);
      if (left <= 0) {
        cell.textContent = "expired";
        cell.classList.add("expired");
        window.clearInterval(countdownTimer);
        return;
      }
      const h = Math.floor(left / 3600);
      const m = Math.floor((left % 3600) / 60);
      const s = left % 60;
      cell.textContent = `${h}h ${String(m).padStart(2, "0")}m ${String(s).padStart(2, "0")}s (${left} s)`;
      cell.classList.remove("expired");
    };
    tick();
    countdownTimer = window.setInterval(tick, 1000);
  }

  function showDecoded(view) {
    $("d-mode").textContent = view.mode === "cbc" ? "cbc (AES-CBC, legacy)" : `${view.mode} (AES-GCM)`;
    $("d-app-id").textContent = String(view.app_id);
    $("d-user-id").textContent = view.user_id;
    $("d-ctime").textContent = when(view.ctime);
    $("d-expire").textContent = when(view.expire);
    $("d-privileges").textContent = describePrivileges(view.privileges);
    startCountdown(view.expire);
  }

  async function getToken(event) {
    event.preventDefault();
    const button = $("get-token");
    let form;
    try {
      form = readForm();
    } catch (error) {
      setStatus(error.message, "error");
      return;
    }
    button.disabled = true;
    setStatus("Asking the server…");
    try {
      const response = await requestToken(form.userID, form.roomID, form.strict);
      const path = new URL(response.url).pathname + new URL(response.url).search;
      $("request-line").textContent = `GET ${path}  →  ${response.status}`;
      $("request-line").hidden = false;
      const { token } = await readJson(response);
      const view = await readJson(
        await fetch(inspectUrl, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ token }),
        }),
      );
      $("token").textContent = token;
      $("kit-token").textContent = kitTokenForProduction(
        view.app_id, token, form.roomID, form.userID, form.userName,
      );
      showDecoded(view);
      $("result").hidden = false;
      setStatus(`Token for ${form.userID}, valid for ${view.expire - view.ctime} s.`, "ok");
    } catch (error) {
      setStatus(error.message || String(error), "error");
    } finally {
      button.disabled = false;
    }
  }

  $("token-form").addEventListener("submit", getToken);
})();
