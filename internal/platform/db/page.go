package db

import "gorm.io/gorm"

// Page is the shape of every paged list: it counts the rows q matches, then
// reads the page of them at offset in the given order. No page is read when
// there is none (nothing matches, or offset is past the end). q is used in
// two fresh sessions, so the count leaves nothing on the read.
func Page[R any](q *gorm.DB, order string, offset, limit int) ([]R, int64, error) {
	var total int64
	if err := q.Session(&gorm.Session{}).Count(&total).Error; err != nil {
		return nil, 0, err
	}
	var rows []R
	if total == 0 || int64(offset) >= total {
		return rows, total, nil
	}
	if err := q.Session(&gorm.Session{}).Order(order).Offset(offset).Limit(limit).Find(&rows).Error; err != nil {
		return nil, 0, err
	}
	return rows, total, nil
}
