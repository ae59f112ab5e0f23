// Package scheduling turns cron triggers into fire times: parsing of standard 5-field, Quartz 6-
// and 7-field and @-macro expressions (cron.go), IANA time zones, and (with the scheduler role)
// the hash jitter and go-quartz integration.
package scheduling
