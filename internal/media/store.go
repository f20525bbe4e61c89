package media

import (
	"context"
	"errors"
	"time"

	"github.com/minimall/minimall/internal/platform/db"
)

// Store keeps the issued objects, the uploads and the daily quotas.
type Store struct {
	db *db.DB
}

// NewStore returns the media store.
func NewStore(d *db.DB) (*Store, error) {
	if d == nil {
		return nil, errors.New("media: nil database")
	}
	return &Store{db: d}, nil
}

type objectRow struct {
	ID          int64
	ObjectKey   string
	ContentType string
	Width       int
	Height      int
	Bytes       int64
	CreatedAt   time.Time
}

func (objectRow) TableName() string { return "media_objects" }

type uploadRow struct {
	ID           int64
	ObjectID     int64
	UploaderType string
	UploaderID   int64
	CreatedAt    time.Time
}

func (uploadRow) TableName() string { return "media_uploads" }

// quotaUsed returns a customer's uploads on day.
func (s *Store) quotaUsed(ctx context.Context, customerID int64, day string) (int, error) {
	var used []int
	err := s.db.Reader(ctx).Raw(`SELECT used FROM media_upload_quotas WHERE customer_id = ? AND day = ?`,
		customerID, day).Scan(&used).Error
	if err != nil || len(used) == 0 {
		return 0, err
	}
	return used[0], nil
}

// takeQuota counts one upload of the customer on day, unless limit is
// reached, and reports whether it did. The first upload of a day inserts the
// row; a racing first upload makes the insert fail on the primary key, and
// the guarded increment then decides.
func (s *Store) takeQuota(ctx context.Context, customerID int64, day string, limit int) (bool, error) {
	w := s.db.Writer(ctx)
	res := w.Exec(`UPDATE media_upload_quotas SET used = used + 1 WHERE customer_id = ? AND day = ? AND used < ?`,
		customerID, day, limit)
	if res.Error != nil {
		return false, res.Error
	}
	if res.RowsAffected == 1 {
		return true, nil
	}
	var n int64
	if err := w.Raw(`SELECT COUNT(*) FROM media_upload_quotas WHERE customer_id = ? AND day = ?`,
		customerID, day).Scan(&n).Error; err != nil {
		return false, err
	}
	if n > 0 || limit < 1 {
		return false, nil
	}
	err := w.Exec(`INSERT INTO media_upload_quotas (customer_id, day, used) VALUES (?, ?, 1)`, customerID, day).Error
	if db.IsDuplicate(err) {
		// A concurrent first upload of the day inserted the row (MySQL keeps
		// the transaction usable after a duplicate key): count on it.
		res = w.Exec(`UPDATE media_upload_quotas SET used = used + 1 WHERE customer_id = ? AND day = ? AND used < ?`,
			customerID, day, limit)
		return res.RowsAffected == 1, res.Error
	}
	return err == nil, err
}

// ensureObject records the object once and returns its id.
func (s *Store) ensureObject(ctx context.Context, img Image, now time.Time) (int64, error) {
	var rows []objectRow
	if err := s.db.Writer(ctx).Where("object_key = ?", img.Key).Limit(1).Find(&rows).Error; err != nil {
		return 0, err
	}
	if len(rows) == 1 {
		return rows[0].ID, nil
	}
	r := objectRow{ObjectKey: img.Key, ContentType: img.ContentType, Width: img.Width, Height: img.Height,
		Bytes: img.Bytes, CreatedAt: now}
	err := s.db.Writer(ctx).Create(&r).Error
	if db.IsDuplicate(err) {
		// The same picture was recorded by a concurrent upload.
		err = s.db.Writer(ctx).Where("object_key = ?", img.Key).Take(&r).Error
	}
	return r.ID, err
}

func (s *Store) insertUpload(ctx context.Context, objectID int64, who Uploader, now time.Time) error {
	return s.db.Writer(ctx).Create(&uploadRow{ObjectID: objectID, UploaderType: who.Kind, UploaderID: who.ID,
		CreatedAt: now}).Error
}

// knownKeys returns which of keys have an object row.
func (s *Store) knownKeys(ctx context.Context, keys []string) (map[string]bool, error) {
	var found []string
	if err := s.db.Reader(ctx).Model(&objectRow{}).Where("object_key IN ?", keys).
		Pluck("object_key", &found).Error; err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(found))
	for _, k := range found {
		out[k] = true
	}
	return out, nil
}

// uploadedBy returns which of keys the uploader uploaded. It reads the
// primary: an image is referenced right after its upload.
func (s *Store) uploadedBy(ctx context.Context, who Uploader, keys []string) (map[string]bool, error) {
	var found []string
	if err := s.db.Writer(ctx).Table("media_uploads u").
		Joins("JOIN media_objects o ON o.id = u.object_id").
		Where("u.uploader_type = ? AND u.uploader_id = ? AND o.object_key IN ?", who.Kind, who.ID, keys).
		Distinct().Pluck("o.object_key", &found).Error; err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(found))
	for _, k := range found {
		out[k] = true
	}
	return out, nil
}
