// Command notecheck opens a signed note read from stdin, as an independent party would:
// with golang.org/x/mod/sumdb/note, against the verifier keys given as arguments. Keys
// of witnesses' cosignatures (type 0x04, c2sp.org/tlog-cosignature) are verified through
// github.com/transparency-dev/formats/note; log keys (type 0x01) by x/mod itself.
//
// It prints JSON: the note's text and the names of the keys whose signatures verified.
// Exit status 1 when the note does not open (no known key signed it, a known key's
// signature fails, or the note is malformed).
//
//	notecheck 'log.example/a+1234abcd+AX...' 'witness.example/w1+cafe0123+BA...' < checkpoint
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

type result struct {
	Text       string   `json:"text"`
	Verified   []string `json:"verified"`
	Unverified []string `json:"unverified"`
}

func main() {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("reading stdin: %v", err)
	}
	var verifiers []note.Verifier
	for _, vkey := range os.Args[1:] {
		// formats' NewVerifier hands a 0x01 key to x/mod's note.NewVerifier
		v, err := fnote.NewVerifier(vkey)
		if err != nil {
			fail("verifier key %q: %v", vkey, err)
		}
		verifiers = append(verifiers, v)
	}
	n, err := note.Open(data, note.VerifierList(verifiers...))
	if err != nil {
		fail("%v", err)
	}
	out := result{Text: n.Text, Verified: []string{}, Unverified: []string{}}
	for _, s := range n.Sigs {
		out.Verified = append(out.Verified, s.Name)
	}
	for _, s := range n.UnverifiedSigs {
		out.Unverified = append(out.Unverified, s.Name)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "notecheck: "+format+"\n", args...)
	os.Exit(1)
}
