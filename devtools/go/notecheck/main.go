// Command notecheck opens a signed note read from stdin, as an independent party would:
// with golang.org/x/mod/sumdb/note, against the verifier keys given as arguments. Keys
// of witnesses' cosignatures (type 0x04, c2sp.org/tlog-cosignature) are verified through
// github.com/transparency-dev/formats/note; log keys (type 0x01) by x/mod itself.
//
// It prints JSON: the note's text and the names of the keys whose signatures verified.
// Exit status 1 when the note does not open (no known key signed it, a known key's
// signature fails, or the note is malformed).
//
// With -cosign and a witness's signer key (PRIVATE+KEY+<name>+<hex id>+<base64(0x04 ||
// seed)>), once the note opened, it also cosigns it as a transparency-dev witness does
// (formats' NewSignerForCosignatureV1, cosignature/v1) and prints the cosignature line.
//
//	notecheck 'log.example/a+1234abcd+AX...' 'witness.example/w1+cafe0123+BA...' < checkpoint
//	notecheck -cosign 'PRIVATE+KEY+witness.example/go+...' 'log.example/a+1234abcd+AX...' < checkpoint
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

type result struct {
	Text        string   `json:"text"`
	Verified    []string `json:"verified"`
	Unverified  []string `json:"unverified"`
	Cosignature string   `json:"cosignature,omitempty"`
}

func main() {
	cosign := flag.String("cosign", "", "a witness's signer key: cosign the note once it opened")
	flag.Parse()
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("reading stdin: %v", err)
	}
	var verifiers []note.Verifier
	for _, vkey := range flag.Args() {
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
	if *cosign != "" {
		signer, err := fnote.NewSignerForCosignatureV1(*cosign)
		if err != nil {
			fail("cosigner key: %v", err)
		}
		signed, err := note.Sign(&note.Note{Text: n.Text}, signer)
		if err != nil {
			fail("cosigning: %v", err)
		}
		// the signed note is the text, a blank line, then the one signature line
		out.Cosignature = strings.TrimPrefix(string(signed), n.Text+"\n")
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "notecheck: "+format+"\n", args...)
	os.Exit(1)
}
