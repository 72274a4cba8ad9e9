package asndb

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
)

// Format names an input layout.
type Format uint8

// Input layouts.
const (
	FormatAuto Format = iota // detect per source: a tab in the first data line means TSV
	FormatCSV                // start_ip,end_ip,asn[,org] (@ip-location-db/asn)
	FormatTSV                // range_start\trange_end\tAS_number\tcountry_code\tAS_description (iptoasn)
)

// String returns "auto", "csv" or "tsv".
func (f Format) String() string {
	switch f {
	case FormatAuto:
		return "auto"
	case FormatCSV:
		return "csv"
	case FormatTSV:
		return "tsv"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// ParseFormat parses "auto", "csv" or "tsv" (for configuration files).
func ParseFormat(s string) (Format, error) {
	switch s {
	case "auto", "":
		return FormatAuto, nil
	case "csv":
		return FormatCSV, nil
	case "tsv":
		return FormatTSV, nil
	}
	return 0, fmt.Errorf("asndb: unknown format %q (want auto, csv or tsv)", s)
}

// ParseError is an error tied to one line of input.
type ParseError struct {
	Source string // name given to Builder.Add or the file path; may be empty
	Line   int    // 1-based line number
	Err    error  // what is wrong with the line
}

// Error formats as "asndb: [source: ]line N: reason".
func (e *ParseError) Error() string {
	if e.Source == "" {
		return fmt.Sprintf("asndb: line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("asndb: %s: line %d: %v", e.Source, e.Line, e.Err)
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }

// maxLine is the longest input line accepted, and the read buffer size.
const maxLine = 64 << 10

// Load reads one source in opt.Format (gzip or plain) and builds a DB.
func Load(r io.Reader, opt Options) (*DB, error) {
	b := NewBuilder(opt)
	if err := b.Add("", r); err != nil {
		return nil, err
	}
	return b.Build()
}

// LoadFiles reads the named files (gzip or plain; e.g. asn-ipv4.csv and
// asn-ipv6.csv) into one DB. Errors name the file.
func LoadFiles(opt Options, paths ...string) (*DB, error) {
	if len(paths) == 0 {
		return nil, errors.New("asndb: no files given")
	}
	b := NewBuilder(opt)
	for _, p := range paths {
		if err := b.addFile(p); err != nil {
			return nil, err
		}
	}
	return b.Build()
}

func (b *Builder) addFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("asndb: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		b.sizeHint = fi.Size()
	}
	defer func() { b.sizeHint = 0 }()
	return b.Add(path, f)
}

// Add reads every line of r, which may be gzip-compressed. name labels
// errors (a file name; may be empty). Reading stops at the first malformed
// line with a *ParseError; ranges read before it stay in the Builder.
func (b *Builder) Add(name string, r io.Reader) error {
	if b.built {
		return errBuilt
	}
	if b.opt.Format > FormatTSV {
		return fmt.Errorf("asndb: unknown format %v", b.opt.Format)
	}
	br := bufio.NewReaderSize(r, maxLine)
	if m, _ := br.Peek(2); len(m) == 2 && m[0] == 0x1f && m[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return &ParseError{Source: name, Line: 1, Err: fmt.Errorf("gzip: %w", err)}
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, maxLine)
	}
	p := lineParser{format: b.opt.Format, first: true}
	for line := 1; ; line++ {
		raw, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return &ParseError{Source: name, Line: line, Err: fmt.Errorf("line longer than %d bytes", maxLine)}
		}
		if err != nil && err != io.EOF {
			return &ParseError{Source: name, Line: line, Err: fmt.Errorf("read: %w", err)}
		}
		if line == 1 {
			raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
		}
		if perr := b.parseLine(&p, raw); perr != nil {
			return &ParseError{Source: name, Line: line, Err: perr}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// lineParser is the per-source parsing state.
type lineParser struct {
	format Format
	first  bool // no data line seen yet: the next one may be a header
}

// parseLine parses one raw line (with its newline, if any).
func (b *Builder) parseLine(p *lineParser, raw []byte) error {
	ln := bytes.TrimSpace(raw)
	if len(ln) == 0 || ln[0] == '#' {
		return nil
	}
	if p.format == FormatAuto {
		p.format = FormatCSV
		if bytes.IndexByte(ln, '\t') >= 0 {
			p.format = FormatTSV
		}
	}
	sep, sepName := byte(','), "comma"
	if p.format == FormatTSV {
		sep, sepName = '\t', "tab"
	}
	var f [3][]byte
	rest, n := ln, 0
	for ; n < 3 && rest != nil; n++ {
		if i := bytes.IndexByte(rest, sep); i >= 0 {
			f[n], rest = bytes.TrimSpace(rest[:i]), rest[i+1:]
		} else {
			f[n], rest = bytes.TrimSpace(rest), nil
		}
	}
	if p.first {
		p.first = false
		if !bytes.ContainsAny(f[0], ".:") {
			return nil // header line
		}
	}
	if n < 3 {
		return fmt.Errorf("want at least 3 %s-separated fields (start, end, ASN), got %d", sepName, n)
	}
	start, err := parseAddr(f[0])
	if err != nil {
		return fmt.Errorf("bad start address: %w", err)
	}
	end, err := parseAddr(f[1])
	if err != nil {
		return fmt.Errorf("bad end address: %w", err)
	}
	asn, err := parseASN(f[2])
	if err != nil {
		return err
	}
	if err := b.add(start, end, asn); err != nil {
		return err
	}
	if b.orgs == nil || asn == 0 || rest == nil {
		return nil
	}
	var name []byte
	if p.format == FormatTSV {
		// rest is "country_code\tAS_description[\t...]".
		if _, desc, ok := bytes.Cut(rest, []byte{'\t'}); ok {
			name, _, _ = bytes.Cut(desc, []byte{'\t'})
			name = bytes.TrimSpace(name)
		}
	} else if name, err = csvField(bytes.TrimSpace(rest)); err != nil {
		return fmt.Errorf("org field: %w", err)
	}
	if len(name) > 0 {
		if _, ok := b.orgs[asn]; !ok {
			b.orgs[asn] = string(name)
		}
	}
	return nil
}

// parseAddr parses an IPv4 or IPv6 address without a zone; IPv4-mapped IPv6
// becomes IPv4.
func parseAddr(s []byte) (netip.Addr, error) {
	if v, ok := parseV4(s); ok {
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), nil
	}
	a, err := netip.ParseAddr(string(s))
	if err != nil {
		return netip.Addr{}, err
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%s has a zone", a)
	}
	return a.Unmap(), nil
}

// parseV4 is the allocation-free fast path for dotted-quad IPv4 with the
// same strictness as netip (no leading zeros). Anything else goes to netip.
func parseV4(s []byte) (uint32, bool) {
	var v uint32
	i := 0
	for part := 0; part < 4; part++ {
		if part > 0 {
			if i >= len(s) || s[i] != '.' {
				return 0, false
			}
			i++
		}
		n, j := uint32(0), i
		for ; j < len(s) && j-i < 3 && s[j] >= '0' && s[j] <= '9'; j++ {
			n = n*10 + uint32(s[j]-'0')
		}
		if j == i || n > 255 || (j-i > 1 && s[i] == '0') {
			return 0, false
		}
		v, i = v<<8|n, j
	}
	return v, i == len(s)
}

// parseASN parses a decimal ASN in 0..4294967295.
func parseASN(s []byte) (uint32, error) {
	if len(s) == 0 || len(s) > 10 {
		return 0, fmt.Errorf("bad ASN %q", s)
	}
	var v uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad ASN %q", s)
		}
		v = v*10 + uint64(c-'0')
	}
	if v > 1<<32-1 {
		return 0, fmt.Errorf("bad ASN %q: above 4294967295", s)
	}
	return uint32(v), nil
}

// csvField decodes the last CSV field (the org name): either plain text
// without quotes or commas, or an RFC 4180 quoted field running to the end of
// the line. The result aliases s when no unescaping is needed.
func csvField(s []byte) ([]byte, error) {
	if len(s) == 0 || s[0] != '"' {
		if i := bytes.IndexAny(s, "\","); i >= 0 {
			if s[i] == ',' {
				return nil, errors.New("unquoted comma (more than 4 fields)")
			}
			return nil, errors.New("quote in unquoted field")
		}
		return s, nil
	}
	body := s[1:]
	if len(body) > 0 && bytes.IndexByte(body, '"') == len(body)-1 {
		return body[:len(body)-1], nil // common case: no escaped quotes
	}
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); i++ {
		if body[i] != '"' {
			out = append(out, body[i])
			continue
		}
		if i+1 < len(body) && body[i+1] == '"' {
			out = append(out, '"')
			i++
			continue
		}
		if i+1 != len(body) {
			return nil, errors.New("text after closing quote")
		}
		return out, nil
	}
	return nil, errors.New("unterminated quoted field")
}
