package mongo_test

import (
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/store/mongo"
)

func TestDatabaseName(t *testing.T) {
	for uri, want := range map[string]string{
		"mongodb://db:27017":                                "kernelci",
		"mongodb://db:27017/":                               "kernelci",
		"mongodb://u:p@db:27017/kci?authSource=admin":       "kci",
		"mongodb://a:1,b:2/other?replicaSet=rs0":            "other",
		"mongodb+srv://u:p@cluster.example.org/?w=majority": "kernelci",
	} {
		got, err := mongo.DatabaseName(uri)
		if err != nil && uri[:11] != "mongodb+srv" {
			t.Errorf("DatabaseName(%s): %v", uri, err)
			continue
		}
		if err == nil && got != want {
			t.Errorf("DatabaseName(%s) = %q, want %q", uri, got, want)
		}
	}
	if _, err := mongo.DatabaseName("mongodb://u:s3cret@db:bad-port/x"); err == nil {
		t.Error("bad URL accepted")
	} else if contains(err.Error(), "s3cret") {
		t.Errorf("password in error: %v", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
