// Package calendars is blackout calendars: named sets of windows, read in one IANA time zone,
// during which the cron triggers that name a calendar do not run. A time is covered when its
// wall-clock reading in the calendar's zone falls on a holiday, in a date range (whole days,
// both ends included) or in a weekly window.
//
//   - calendar.go: the domain Calendar and its validation (what protovalidate cannot check:
//     the zone exists, the dates are real dates, the windows are well formed).
//   - matcher.go: Matcher (one compiled calendar) and Set (the calendars of one trigger):
//     Covers, Covering and WindowEnd. Pure, no I/O.
//   - service.go: Service, the CRUD the API calls, over the Store internal/store implements.
//
// # Wall-clock windows and DST
//
// A weekly window is a stretch of wall-clock time: from start (included) to end (excluded) on
// the days it starts on; an end at or before the start runs past midnight into the next day,
// and "24:00" is the end of the day. Coverage is decided on the wall-clock reading of a time in
// the calendar's zone, so a window whose wall-clock times do not exist on a day (02:00-03:00 on
// the day Europe/Berlin springs forward) covers nothing that day, and one inside a repeated
// hour (02:00-02:30 on the day the clocks go back) covers both passes.
//
// # Window ends
//
// WindowEnd(t) is when the blackout that covers t ends: the first instant after t whose
// wall-clock reading leaves every element that covers it, followed through adjacent and
// overlapping elements of every calendar of the Set (a window to 24:00 followed by a holiday,
// two calendars whose windows overlap). A wall-clock end that does not exist (inside a
// spring-forward gap) ends at the instant the clocks jump. The after-window fire of a trigger
// whose after-blackout policy is FIRE_ONCE happens at that end (internal/scheduler/blackout.go).
// A blackout still going on after MaxWindowSteps elements (a calendar that covers every day)
// has no end: WindowEnd answers the zero time.
//
// # Storage and deletion
//
// Calendars are rows of the calendars table; a cron trigger names its calendars in the
// trigger_calendars table, whose foreign key to calendars refuses deleting a calendar that a
// trigger names (archiving a deployment deletes its triggers, and so frees its calendars). The
// service checks first, to name the deployments in its failed_precondition; the key holds
// against the race between that check and a deploy.
package calendars
