/* The join page of a Janus VideoRoom: publish camera and microphone, watch the others, leave.
   Everything it needs comes from the data- attributes of #room, so the page needs no inline
   script (Content-Security-Policy). Needs janus.js (Debian: libjs-janus-gateway) loaded first. */
(function () {
  "use strict";

  var PLUGIN = "janus.plugin.videoroom";
  var root = document.getElementById("room");
  var config = root.dataset;
  var roomId = Number(config.room);
  var seat = Number(config.seat);
  var statusBox = document.getElementById("room-status");
  var selfVideo = document.getElementById("self-video");
  var feedList = document.getElementById("feeds");
  var alone = document.getElementById("alone");
  var leaveButton = document.getElementById("leave");

  var janus = null;
  var publisher = null;
  var privateId = null;
  var leaving = false;
  var feeds = {}; // publisher id -> {handle, item, video, stream}

  // Shows one of the data-msg-* texts; `key` is its dataset name without "msg".
  function say(key, isError) {
    statusBox.textContent = config["msg" + key] || config.msgFailed;
    statusBox.classList.toggle("error", Boolean(isError));
  }

  function joinError(code) {
    var known = { 426: "RoomClosed", 433: "NotAllowed", 436: "AlreadyIn" };
    say(known[code] || "Failed", true);
  }

  // janus.js only reads the browser's name and version from webrtc-adapter; without
  // adapter.js on the page, tell it ourselves (Safari's version is its WebKit build).
  function browserDetails() {
    var agent = navigator.userAgent;
    var webkit = /AppleWebKit\/(\d+)/.exec(agent);
    var firefox = /Firefox\/(\d+)/.exec(agent);
    if (firefox) return { browser: "firefox", version: Number(firefox[1]) };
    if (webkit && !/(Chrome|Chromium|Edg)\//.test(agent)) {
      return { browser: "safari", version: Number(webkit[1]) };
    }
    var chrome = /(?:Chrome|Chromium)\/(\d+)/.exec(agent);
    return { browser: "chrome", version: chrome ? Number(chrome[1]) : 0 };
  }

  function showSelf(track, on) {
    if (track.kind === "video") selfVideo.srcObject = on ? new MediaStream([track]) : null;
  }

  function publish() {
    publisher.createOffer({
      tracks: [
        { type: "audio", capture: true, recv: false },
        { type: "video", capture: true, recv: false }
      ],
      success: function (offer) {
        publisher.send({ message: { request: "publish" }, jsep: offer });
      },
      error: function (error) {
        var name = error && error.name;
        say(name === "NotAllowedError" || name === "SecurityError" ? "CameraBlocked" : "NoCamera", true);
      }
    });
  }

  function addTile(display) {
    var item = document.createElement("li");
    var figure = document.createElement("figure");
    var video = document.createElement("video");
    var caption = document.createElement("figcaption");
    video.width = 320;
    video.autoplay = true;
    video.playsInline = true;
    video.setAttribute("aria-label", display || "");
    caption.textContent = display || "";
    figure.append(video, caption);
    item.append(figure);
    feedList.append(item);
    alone.hidden = true;
    return { item: item, video: video };
  }

  function dropFeed(id) {
    var feed = feeds[id];
    if (!feed) return;
    delete feeds[id];
    if (feed.handle) feed.handle.detach();
    feed.item.remove();
    alone.hidden = Object.keys(feeds).length > 0;
  }

  function showTrack(feed, track, on) {
    var known = feed.stream.getTrackById(track.id);
    if (on && !known) feed.stream.addTrack(track);
    if (!on && known) feed.stream.removeTrack(known);
    feed.video.srcObject = feed.stream;
    feed.video.play().catch(function () {});
  }

  function subscribe(other) {
    var feed = addTile(other.display);
    feed.stream = new MediaStream();
    feeds[other.id] = feed;
    janus.attach({
      plugin: PLUGIN,
      success: function (handle) {
        feed.handle = handle;
        handle.send({
          message: {
            request: "join",
            ptype: "subscriber",
            room: roomId,
            pin: config.pin,
            private_id: privateId,
            streams: [{ feed: other.id }]
          }
        });
      },
      error: function () { dropFeed(other.id); },
      onmessage: function (message, jsep) {
        if (message.error_code) {
          dropFeed(other.id);
        } else if (jsep) {
          feed.handle.createAnswer({
            jsep: jsep,
            tracks: [], // receive only: we capture nothing on this handle
            success: function (answer) {
              feed.handle.send({ message: { request: "start", room: roomId }, jsep: answer });
            },
            error: function () { dropFeed(other.id); }
          });
        }
      },
      onremotetrack: function (track, mid, on) { showTrack(feed, track, on); }
    });
  }

  function subscribeAll(publishers) {
    (publishers || []).forEach(function (other) {
      if (other.id !== seat && !feeds[other.id]) subscribe(other);
    });
  }

  function onPublisherMessage(message, jsep) {
    var event = message.videoroom;
    if (leaving) return;
    if (message.error_code) {
      joinError(message.error_code);
    } else if (event === "joined") {
      privateId = message.private_id;
      say("Joined");
      publish();
      subscribeAll(message.publishers);
    } else if (event === "destroyed") {
      say("RoomEnded");
      Object.keys(feeds).forEach(dropFeed);
      publisher.hangup();
    } else if (event === "event") {
      subscribeAll(message.publishers);
      var gone = message.leaving || message.unpublished;
      if (gone && gone !== "ok") dropFeed(gone);
    }
    if (jsep) publisher.handleRemoteJsep({ jsep: jsep });
  }

  function joinRoom() {
    janus.attach({
      plugin: PLUGIN,
      success: function (handle) {
        publisher = handle;
        handle.send({
          message: {
            request: "join",
            ptype: "publisher",
            room: roomId,
            pin: config.pin,
            display: config.display,
            id: seat,
            token: config.token
          }
        });
      },
      error: function () { say("Failed", true); },
      onmessage: onPublisherMessage,
      onlocaltrack: showSelf,
      oncleanup: function () { selfVideo.srcObject = null; }
    });
  }

  function connect() {
    if (!Janus.isWebrtcSupported()) {
      say("Unsupported", true);
      return;
    }
    say("Connecting");
    janus = new Janus({
      server: config.server,
      success: joinRoom,
      error: function () { if (!leaving) say("ConnectionLost", true); }
    });
  }

  function leave() {
    var gone = false;
    function go() {
      if (gone) return;
      gone = true;
      window.location.assign(config.leaveUrl);
    }
    leaving = true;
    leaveButton.disabled = true;
    say("Leaving");
    window.setTimeout(go, 3000); // leave anyway if Janus does not answer
    if (!janus) return go();
    function close() {
      if (publisher) publisher.hangup();
      janus.destroy({ success: go, error: go });
    }
    if (!publisher) return close();
    publisher.send({ message: { request: "leave" }, success: close, error: close });
  }

  leaveButton.addEventListener("click", leave);
  if (typeof Janus === "undefined") {
    say("ConnectionLost", true); // janus.js did not load
    return;
  }
  Janus.init({
    debug: false,
    dependencies: Janus.useDefaultDependencies({
      adapter: window.adapter || { browserDetails: browserDetails() }
    }),
    callback: connect
  });
})();
