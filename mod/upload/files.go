package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Files keeps the bytes of uploaded files, by slot id. The metadata lives
// in storage; a later backend (S3) implements this interface only.
// Implementations are safe for concurrent use.
type Files interface {
	// Put stores exactly size bytes read from r as id. Reading fewer or
	// more is an error, and nothing is kept then; a reader error is
	// returned as is.
	Put(ctx context.Context, id string, r io.Reader, size int64) error
	// Open returns the file id for reading, and when it was stored;
	// fs.ErrNotExist when there is none.
	Open(ctx context.Context, id string) (File, time.Time, error)
	// Delete removes id; removing an absent file is not an error.
	Delete(ctx context.Context, id string) error
	// List returns the ids of the stored files.
	List(ctx context.Context) ([]string, error)
}

// File is an open stored file: http.ServeContent seeks in it to answer
// range requests.
type File interface {
	io.ReadSeekCloser
}

// ErrSize is returned by Put when the body is not of the announced size.
var ErrSize = errors.New("upload: body size differs from the slot")

// dirFiles keeps files in a folder, one file per id; an upload is written
// to id.part and renamed into place when complete, so a reader never sees
// a partial file.
type dirFiles struct{ dir string }

var _ Files = dirFiles{}

func newDirFiles(dir string) (dirFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return dirFiles{}, fmt.Errorf("upload folder: %w", err)
	}
	return dirFiles{dir}, nil
}

const partSuffix = ".part"

func (d dirFiles) path(id string) string { return filepath.Join(d.dir, id) }

func (d dirFiles) Put(ctx context.Context, id string, r io.Reader, size int64) error {
	part := d.path(id) + partSuffix
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(r, size+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		err = ErrSize
	}
	if err != nil {
		os.Remove(part)
		return err
	}
	return os.Rename(part, d.path(id))
}

func (d dirFiles) Open(ctx context.Context, id string) (File, time.Time, error) {
	f, err := os.Open(d.path(id))
	if err != nil {
		return nil, time.Time{}, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, time.Time{}, err
	}
	return f, st.ModTime(), nil
}

func (d dirFiles) Delete(ctx context.Context, id string) error {
	err := os.Remove(d.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// List returns the complete files; leftovers of uploads cut by a crash
// (.part files) are removed when older than a day.
func (d dirFiles) List(ctx context.Context) ([]string, error) {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, partSuffix) {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > 24*time.Hour {
				os.Remove(filepath.Join(d.dir, name))
			}
			continue
		}
		if validID(name) {
			ids = append(ids, name)
		}
	}
	return ids, nil
}
