package sandbox

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Certs is a throwaway PKI for the sandbox's mutual TLS: a CA, a server certificate and a client
// certificate it signed, all PEM. Spine's own PKI is not public; this one only has to make a client do
// what it must do with Spine (present a client certificate, trust a private CA).
type Certs struct {
	CAPEM, ServerCertPEM, ServerKeyPEM, ClientCertPEM, ClientKeyPEM []byte
}

// certValidity is short on purpose: the certificates are made at start-up and thrown away.
const certValidity = 7 * 24 * time.Hour

// The files WriteClientFiles writes.
const (
	CAFile        = "ca.pem"
	ClientFile    = "client.pem"
	ClientKeyFile = "client-key.pem"
)

// GenerateCerts makes an ECDSA P-256 CA, a server certificate for hosts (IP addresses or DNS names;
// default 127.0.0.1, localhost and ::1) and a client certificate for TLS client authentication.
func GenerateCerts(hosts ...string) (*Certs, error) {
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1", "localhost", "::1"}
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "EPS Tracker sandbox CA", Organization: []string{"eps-fhir-tracker sandbox"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, caCert, err := sign(caTmpl, nil, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("sandbox CA: %w", err)
	}

	leaf := func(cn string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte, err error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{
			Subject:     pkix.Name{CommonName: cn, Organization: []string{"eps-fhir-tracker sandbox"}},
			NotBefore:   now.Add(-time.Hour),
			NotAfter:    now.Add(certValidity),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		if usage == x509.ExtKeyUsageServerAuth {
			for _, h := range hosts {
				if ip := net.ParseIP(h); ip != nil {
					tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
				} else {
					tmpl.DNSNames = append(tmpl.DNSNames, h)
				}
			}
		}
		der, _, err := sign(tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return nil, nil, err
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, nil, err
		}
		return pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", keyDER), nil
	}
	c := &Certs{CAPEM: pemBlock("CERTIFICATE", caDER)}
	if c.ServerCertPEM, c.ServerKeyPEM, err = leaf("EPS Tracker sandbox server", x509.ExtKeyUsageServerAuth); err != nil {
		return nil, fmt.Errorf("sandbox server certificate: %w", err)
	}
	if c.ClientCertPEM, c.ClientKeyPEM, err = leaf("EPS Tracker sandbox client", x509.ExtKeyUsageClientAuth); err != nil {
		return nil, fmt.Errorf("sandbox client certificate: %w", err)
	}
	return c, nil
}

// sign signs tmpl with a fresh serial number; a nil parent self-signs.
func sign(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, priv *ecdsa.PrivateKey) ([]byte, *x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return der, cert, err
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func (c *Certs) pool() (*x509.CertPool, error) {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(c.CAPEM) {
		return nil, errors.New("sandbox: no CA certificate in CAPEM")
	}
	return p, nil
}

// ServerTLSConfig requires and verifies a client certificate signed by the CA. It offers HTTP/1.1
// only (GUESS: as Spine's Tracker endpoints, whose examples are HTTP/1.1).
func (c *Certs) ServerTLSConfig() (*tls.Config, error) {
	cert, err := tls.X509KeyPair(c.ServerCertPEM, c.ServerKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("sandbox server key pair: %w", err)
	}
	pool, err := c.pool()
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}, nil
}

// ClientTLSConfig trusts the CA and presents the client certificate.
func (c *Certs) ClientTLSConfig() (*tls.Config, error) {
	cert, err := tls.X509KeyPair(c.ClientCertPEM, c.ClientKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("sandbox client key pair: %w", err)
	}
	pool, err := c.pool()
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// WriteClientFiles writes what a client needs into dir: ca.pem, client.pem and client-key.pem (the
// key readable by its owner only). A dir it creates gets mode 0700; an existing one is left as it is.
func (c *Certs) WriteClientFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{CAFile, c.CAPEM, 0o644},
		{ClientFile, c.ClientCertPEM, 0o644},
		{ClientKeyFile, c.ClientKeyPEM, 0o600},
	} {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// writeFileAtomic writes a file under a temporary name and renames it into place, so that a client
// reloading its certificates while they are rotated never reads half a file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
