package central

import "io"

// Internals the external tests and fuzz targets reach.

var (
	ParseCursor     = parseCursor
	ParseReviewForm = parseReviewForm
)

// ParseStations parses a stations file and returns its station IDs in
// file order.
func ParseStations(r io.Reader) ([]string, error) {
	entries, err := parseStations(r)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.id
	}
	return ids, nil
}
