package seeds

import (
	_ "embed"
	"fmt"
)

//go:embed default.txt
var defaultList string

// Default parses the embedded default seed list (seeds/default.txt). The
// list is empty until a public network exists; see that file for why and for
// how it is filled at release time.
func Default() ([]Seed, error) {
	s, err := ParseList("default.txt", defaultList)
	if err != nil {
		return nil, fmt.Errorf("embedded default seeds: %w", err)
	}
	return s, nil
}
