package mongotest

import (
	"context"
	"os"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestServer(t *testing.T) {
	ctx := context.Background()
	cl, err := mongo.Connect(options.Client().ApplyURI(URI(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Disconnect(ctx)
	a, b := NewDatabase(), NewDatabase()
	if a == b {
		t.Fatalf("NewDatabase returned %q twice", a)
	}
	if _, err := cl.Database(a).Collection("c").InsertOne(ctx, bson.D{{Key: "x", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	n, err := cl.Database(b).Collection("c").CountDocuments(ctx, bson.D{})
	if err != nil || n != 0 {
		t.Fatalf("databases not separate: %d, %v", n, err)
	}
}
