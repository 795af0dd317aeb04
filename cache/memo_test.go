package cache_test

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/cache"
)

func TestMemoKeepsBoundsAndClears(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	m, err := cache.NewMemo[string]("test", cache.Config{TTL: time.Minute, MaxBytes: 4096, Now: func() time.Time { return now }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := sha256.Sum256([]byte("a")), sha256.Sum256([]byte("b"))
	m.Put(a, "entries of a", 1000)
	if v, ok := m.Get(a); !ok || v != "entries of a" {
		t.Fatalf("Get(a) = %q, %v", v, ok)
	}
	if _, ok := m.Get(b); ok {
		t.Error("an unknown key was found")
	}
	t.Run("bounded in bytes, the oldest going first", func(t *testing.T) {
		for i := range 10 {
			m.Put(sha256.Sum256([]byte{byte(i)}), "x", 1000)
		}
		if _, ok := m.Get(a); ok {
			t.Error("the oldest entry outlived the byte bound")
		}
		if _, ok := m.Get(sha256.Sum256([]byte{9})); !ok {
			t.Error("the newest entry is gone")
		}
	})
	t.Run("expires after its TTL", func(t *testing.T) {
		m.Put(a, "a again", 10)
		now = now.Add(time.Minute)
		if _, ok := m.Get(a); ok {
			t.Error("an entry outlived its TTL")
		}
	})
	t.Run("Clear empties it", func(t *testing.T) {
		m.Put(b, "b", 10)
		m.Clear()
		if _, ok := m.Get(b); ok {
			t.Error("an entry survived Clear")
		}
		m.Put(b, "b", 10)
		if _, ok := m.Get(b); !ok {
			t.Error("the memo keeps nothing after Clear")
		}
	})
}

func TestAZeroTTLMemoKeepsNothing(t *testing.T) {
	m, err := cache.NewMemo[int]("off", cache.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	k := sha256.Sum256(nil)
	m.Put(k, 1, 1)
	if _, ok := m.Get(k); ok || m.Enabled() {
		t.Error("a disabled memo kept a value")
	}
	m.Clear() // harmless
}
