// Reads iCalendar files the way Thunderbird does (Mozilla's ical.js) and prints what it understood.
//
// Usage: node parse_ics.mjs FILE.ics [FILE.ics ...]   (or the text of one calendar on stdin)
// Prints one JSON line per input, in order: {"file", "method", "timezones", "events": [...]}, or
// {"file", "error"} when ical.js refuses the text, so one bad file does not hide the others.
import fs from "node:fs";
import ICAL from "ical.js";

function address(prop) {
  if (prop === null) {
    return null;
  }
  return { value: prop.getFirstValue(), params: prop.toJSON()[1] };
}

function instant(time) {
  return time === null ? null : time.toJSDate().toISOString();
}

function describe(file, text) {
  const calendar = new ICAL.Component(ICAL.parse(text));
  const events = calendar.getAllSubcomponents("vevent").map((vevent) => {
    const event = new ICAL.Event(vevent);
    return {
      uid: event.uid,
      sequence: event.sequence,
      status: vevent.getFirstPropertyValue("status"),
      summary: event.summary,
      description: event.description,
      location: event.location,
      url: vevent.getFirstPropertyValue("url"),
      start: instant(event.startDate),
      end: instant(event.endDate),
      organizer: address(vevent.getFirstProperty("organizer")),
      attendees: event.attendees.map(address),
      alarms: vevent.getAllSubcomponents("valarm").length,
    };
  });
  return {
    file,
    method: calendar.getFirstPropertyValue("method"),
    timezones: calendar.getAllSubcomponents("vtimezone").length,
    events,
  };
}

const inputs =
  process.argv.length > 2
    ? process.argv.slice(2).map((file) => [file, () => fs.readFileSync(file, "utf8")])
    : [["-", () => fs.readFileSync(0, "utf8")]];

for (const [file, read] of inputs) {
  let result;
  try {
    result = describe(file, read());
  } catch (error) {
    result = { file, error: String(error) };
  }
  process.stdout.write(JSON.stringify(result) + "\n");
}
