package perfresult

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// maxFileSize bounds what Decode reads: a result is a few KiB.
const maxFileSize = 1 << 20

// Decode reads one result from r. Unknown keys, data after the result
// object, a schema version other than SchemaVersion, results that fail
// Validate and input over 1 MiB are errors.
func Decode(r io.Reader) (*Result, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("perfresult: read: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("perfresult: result larger than %d bytes", maxFileSize)
	}
	// Check the version first and leniently, so that a file of another
	// schema is reported as such rather than as an unknown field.
	var head struct {
		SchemaVersion *int `json:"schema_version"`
	}
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&head); err != nil {
		return nil, fmt.Errorf("perfresult: decode: %w", err)
	}
	if head.SchemaVersion == nil {
		return nil, fmt.Errorf("perfresult: schema_version missing (want %d)", SchemaVersion)
	}
	if *head.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("perfresult: schema_version %d not supported (want %d)", *head.SchemaVersion, SchemaVersion)
	}

	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var res Result
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("perfresult: decode: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("perfresult: decode: data after the result object")
	}
	if err := res.Validate(); err != nil {
		return nil, err
	}
	return &res, nil
}

// Load reads and validates the result file at path (see Decode).
func Load(path string) (*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("perfresult: %w", err)
	}
	defer f.Close()
	res, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return res, nil
}

// Encode validates r and writes it to w as indented JSON with a final
// newline.
func (r *Result) Encode(w io.Writer) error {
	data, err := r.marshal()
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("perfresult: write: %w", err)
	}
	return nil
}

// Save validates r and writes it to path, replacing any existing file
// atomically (a temporary file in the same directory, synced, then renamed).
func (r *Result) Save(path string) (err error) {
	data, err := r.marshal()
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("perfresult: save: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("perfresult: save %s: %w", path, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("perfresult: save %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("perfresult: save %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("perfresult: save %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("perfresult: save: %w", err)
	}
	return nil
}

func (r *Result) marshal() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("perfresult: encode: %w", err)
	}
	return append(data, '\n'), nil
}

// LocalMachine describes the machine the calling process runs on: Go's
// view of the OS, architecture, usable CPUs and toolchain, and the CPU
// model from /proc/cpuinfo where there is one (empty otherwise).
func LocalMachine() Machine {
	m := Machine{
		GOOS:      runtime.GOOS,
		GOARCH:    runtime.GOARCH,
		CPUs:      runtime.NumCPU(),
		GoVersion: runtime.Version(),
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		m.CPUModel = cpuModel(f)
		f.Close()
	}
	return m
}

// cpuModel returns the CPU model named in a /proc/cpuinfo text: "model
// name" (x86), "cpu model" (MIPS), "Model" (Raspberry Pi board) or
// "Hardware" (older ARM kernels), in that order of preference.
func cpuModel(r io.Reader) string {
	keys := [...]string{"model name", "cpu model", "Model", "Hardware"}
	var found [len(keys)]string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		for i, want := range keys {
			if k == want && found[i] == "" && v != "" {
				found[i] = v
			}
		}
	}
	for _, v := range found {
		if v != "" {
			return v
		}
	}
	return ""
}
