// What a customer's page does, as functions the tests call: ZEGO's snippet and UIKit calls.
"use strict";

// ZEGO's guide: fetch the token from the app server, compose the kit token in the browser.
window.seedFlow = async (serverUrl, appID, roomID, userID, userName) => {
  const res = await fetch(`${serverUrl}?userID=${userID}&expired_ts=86400`, { method: "GET" });
  const { token } = await res.json();
  const kitToken = ZegoUIKitPrebuilt.generateKitTokenForProduction(appID, token, roomID, userID, userName);
  return { status: res.status, token, kitToken };
};

// A fetch whose outcome the test reads: a CORS refusal rejects the promise with a TypeError.
window.tryFetch = async (url) => {
  try {
    const res = await fetch(url);
    return { fetched: true, status: res.status, body: await res.json() };
  } catch (error) {
    return { fetched: false, error: `${error.name}: ${error.message}` };
  }
};
