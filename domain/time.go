package domain

import "time"

// FormatTime writes a time kept as unix nanoseconds the way the HTTP side shows times:
// RFC 3339 in UTC.
func FormatTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }
