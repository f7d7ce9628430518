package central

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"kioskd/sync/wire"
)

// storedHeartbeat is a station's value in the heartbeats bucket.
type storedHeartbeat struct {
	Heartbeat wire.Heartbeat `json:"heartbeat"`
	Received  time.Time      `json:"received"`
}

// putHeartbeat keeps h as station's latest heartbeat, received now.
func (s *Server) putHeartbeat(station string, h wire.Heartbeat) error {
	v, err := json.Marshal(storedHeartbeat{Heartbeat: h, Received: s.now()})
	if err != nil {
		return fmt.Errorf("heartbeat %s: %w", station, err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketHeartbeats).Put([]byte(station), v)
	})
	if err != nil {
		return fmt.Errorf("heartbeat %s: %w", station, err)
	}
	return nil
}

// StationInfo is a station as the admin sees it: its latest heartbeat and
// when central received it (zero when none came yet).
type StationInfo struct {
	ID            string
	LastHeartbeat time.Time
	Heartbeat     wire.Heartbeat
}

// Stations lists the stations of the stations file and every station that
// sent a heartbeat, by ID.
func (s *Server) Stations() ([]StationInfo, error) {
	byID := map[string]StationInfo{}
	for _, id := range s.stations.ids() {
		byID[id] = StationInfo{ID: id}
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketHeartbeats).ForEach(func(k, v []byte) error {
			var h storedHeartbeat
			if err := json.Unmarshal(v, &h); err != nil {
				return fmt.Errorf("heartbeat of %s: %w", k, err)
			}
			byID[string(k)] = StationInfo{ID: string(k), LastHeartbeat: h.Received, Heartbeat: h.Heartbeat}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("stations: %w", err)
	}
	out := make([]StationInfo, 0, len(byID))
	for _, st := range byID {
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b StationInfo) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
