// Package loopback is the address guard of the comparison tools: every
// listen and dial address must be a literal loopback IP, so no run can send a
// packet off this machine.
package loopback
