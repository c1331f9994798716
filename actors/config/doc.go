// Package config reads the server's HCL configuration file into checked,
// ready-to-use values: defaults filled, durations parsed, relative paths
// resolved. Every problem in a file is reported in one pass, each with the
// file, line and field it concerns, so an operator can fix them all at once.
package config
