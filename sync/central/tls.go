package central

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"slices"
)

// TLSConfig is the server's TLS configuration: TLS 1.2 or later with the
// certificate and key in certFile and keyFile. When clientCAFile is not
// empty, every client must present a certificate that verifies against
// the CAs in it, and a station's certificate must name the station its
// token speaks for, as its CommonName or one of its DNS names (the
// handlers check it: a mismatch is 403 forbidden). The admin page's
// browser then needs a client certificate too; its name is not checked.
func TLSConfig(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: certificate %s, key %s: %w", certFile, keyFile, err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}
	if clientCAFile != "" {
		pem, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: client CA %s holds no PEM certificate", clientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// checkPeer refuses a station request whose connection verified a client
// certificate that does not name station. Connections without a verified
// certificate (no client CA configured, plain HTTP on loopback) pass.
func checkPeer(r *http.Request, station string) error {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil
	}
	leaf := r.TLS.VerifiedChains[0][0]
	if leaf.Subject.CommonName == station || slices.Contains(leaf.DNSNames, station) {
		return nil
	}
	return fmt.Errorf("the client certificate does not name station %s: %w", station, ErrForbidden)
}
