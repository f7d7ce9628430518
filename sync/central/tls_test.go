package central_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"kioskd/sync/central"
)

// pki is a throwaway CA that signs server and client certificates.
type pki struct {
	t    *testing.T
	dir  string
	ca   *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	n    int64
}

func newPKI(t *testing.T) *pki {
	p := &pki{t: t, dir: t.TempDir(), n: 1}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p.ca, _ = x509.ParseCertificate(der)
	p.key = key
	p.pool = x509.NewCertPool()
	p.pool.AddCert(p.ca)
	p.write("ca.pem", "CERTIFICATE", der)
	return p
}

func (p *pki) write(name, typ string, der []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// issue makes a certificate and key; it returns the files and the pair.
func (p *pki) issue(name, cn string, dns []string, usage x509.ExtKeyUsage) (certFile, keyFile string, pair tls.Certificate) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	p.n++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(p.n), Subject: pkix.Name{CommonName: cn}, DNSNames: dns,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.key)
	if err != nil {
		p.t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		p.t.Fatal(err)
	}
	certFile, keyFile = p.write(name+".pem", "CERTIFICATE", der), p.write(name+".key", "EC PRIVATE KEY", kder)
	pair, err = tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		p.t.Fatal(err)
	}
	return certFile, keyFile, pair
}

func TestTLSClientCertificates(t *testing.T) {
	e := newEnv(t)
	p := newPKI(t)
	certFile, keyFile, _ := p.issue("server", "central", nil, x509.ExtKeyUsageServerAuth)
	_, _, byCN := p.issue("lib-1-cn", "lib-1", nil, x509.ExtKeyUsageClientAuth)
	_, _, bySAN := p.issue("lib-1-san", "someone", []string{"lib-1"}, x509.ExtKeyUsageClientAuth)
	_, _, other := p.issue("lib-2", "lib-2", nil, x509.ExtKeyUsageClientAuth)

	cfg, err := central.TLSConfig(certFile, keyFile, filepath.Join(p.dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || cfg.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Fatalf("TLSConfig: min version %x, client auth %v", cfg.MinVersion, cfg.ClientAuth)
	}
	ts := httptest.NewUnstartedServer(e.srv.Handler())
	ts.TLS = cfg
	ts.StartTLS()
	defer ts.Close()

	hello := func(cert *tls.Certificate) (int, error) {
		tc := &tls.Config{RootCAs: p.pool, MinVersion: tls.VersionTLS12}
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 10 * time.Second}
		r, _ := http.NewRequest("GET", ts.URL+"/v1/hello", nil)
		r.Header.Set("Authorization", "Bearer "+e.tokens["lib-1"])
		res, err := c.Do(r)
		if err != nil {
			return 0, err
		}
		res.Body.Close()
		return res.StatusCode, nil
	}
	cases := []struct {
		name   string
		cert   *tls.Certificate
		status int
	}{
		{"CommonName is the station", &byCN, 200},
		{"a DNS name is the station", &bySAN, 200},
		{"another station's certificate", &other, 403},
	}
	for _, c := range cases {
		if got, err := hello(c.cert); err != nil || got != c.status {
			t.Errorf("%s: status %d, %v; want %d", c.name, got, err, c.status)
		}
	}
	if _, err := hello(nil); err == nil {
		t.Error("no client certificate: the handshake succeeded")
	}

	if _, err := central.TLSConfig(certFile, keyFile, filepath.Join(p.dir, "missing.pem")); err == nil {
		t.Error("TLSConfig with a missing client CA: no error")
	}
	if _, err := central.TLSConfig(certFile, keyFile, keyFile); err == nil {
		t.Error("TLSConfig with a client CA that holds no certificate: no error")
	}
	plain, err := central.TLSConfig(certFile, keyFile, "")
	if err != nil || plain.ClientAuth != tls.NoClientCert {
		t.Errorf("TLSConfig without a client CA: %v, client auth %v", err, plain.ClientAuth)
	}
}
