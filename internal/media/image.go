package media

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"mime"
	"path"
	"strings"

	"golang.org/x/image/webp"

	"github.com/minimall/minimall/internal/apperr"
)

// Formats an upload may have, told apart by their content.
const (
	FormatJPEG = "jpeg"
	FormatPNG  = "png"
	FormatWebP = "webp"
)

// jpegQuality is the quality of re-encoded JPEGs: visually lossless for
// photos of goods, and a fraction of a phone camera's original size.
const jpegQuality = 88

// sniff tells the format by the file's magic bytes, never by its name or the
// Content-Type the client sent. Anything else is refused.
func sniff(b []byte) (string, error) {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return FormatJPEG, nil
	case len(b) >= 8 && bytes.Equal(b[:8], []byte("\x89PNG\r\n\x1a\n")):
		return FormatPNG, nil
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return FormatWebP, nil
	}
	return "", apperr.Invalid("file must be a JPEG, PNG or WebP image", "file")
}

// Claimed is the format a file's name or declared content type claims, or ""
// when they claim none this package knows (no extension, or
// application/octet-stream, as mini-program uploads often send). A name and
// a type that claim different formats claim the name's.
func Claimed(filename, contentType string) string {
	switch strings.ToLower(path.Ext(filename)) {
	case ".jpg", ".jpeg", ".jpe", ".jfif":
		return FormatJPEG
	case ".png":
		return FormatPNG
	case ".webp":
		return FormatWebP
	case ".gif", ".bmp", ".heic", ".heif", ".tif", ".tiff", ".svg", ".html", ".htm", ".txt":
		return path.Ext(filename)[1:]
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "image/jpeg", "image/pjpeg":
		return FormatJPEG
	case "image/png":
		return FormatPNG
	case "image/webp":
		return FormatWebP
	}
	return ""
}

// processed is an image ready to store: re-encoded bytes without metadata.
type processed struct {
	body        []byte
	contentType string
	ext         string
	width       int
	height      int
}

// key is the object key: the SHA-256 of the stored bytes and the extension.
func (p processed) key() string {
	sum := sha256.Sum256(p.body)
	return hex.EncodeToString(sum[:]) + "." + p.ext
}

// process checks and re-encodes one upload.
//
//  1. The format is sniffed from the content.
//  2. Only the header is decoded (DecodeConfig) and the dimensions checked
//     against maxSide, so a "decompression bomb" (a small file declaring
//     20000×20000 pixels) is refused before a single pixel buffer is
//     allocated.
//  3. The pixels are decoded; a truncated or corrupt file fails here.
//  4. The image is encoded again from its pixels. Nothing but pixels
//     survives: EXIF (GPS position, camera serial), XMP, ICC profiles, PNG
//     text chunks and anything appended after the image are dropped.
//
// JPEG stays JPEG, PNG stays PNG. Go has no WebP encoder, so WebP becomes
// PNG when it has transparency (a cut-out product shot keeps its alpha) and
// JPEG otherwise (photos stay small). A JPEG's EXIF orientation is applied to
// the pixels before the metadata is dropped, so a phone photo taken upright
// stays upright.
func process(b []byte, maxSide int, claimed string) (processed, error) {
	format, err := sniff(b)
	if err != nil {
		return processed{}, err
	}
	if claimed != "" && claimed != format {
		return processed{}, apperr.Invalid("file content is a "+format+" image but its name or type says "+claimed, "file").
			WithDetail("content", format).WithDetail("claimed", claimed)
	}
	var cfg image.Config
	switch format {
	case FormatJPEG:
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(b))
	case FormatPNG:
		cfg, err = png.DecodeConfig(bytes.NewReader(b))
	case FormatWebP:
		cfg, err = webp.DecodeConfig(bytes.NewReader(b))
	}
	if err != nil {
		return processed{}, apperr.Invalid("file is not a readable "+format+" image", "file")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxSide || cfg.Height > maxSide {
		return processed{}, apperr.Invalid(fmt.Sprintf("image must be at most %d×%d pixels, got %d×%d",
			maxSide, maxSide, cfg.Width, cfg.Height), "file").
			WithDetail("width", cfg.Width).WithDetail("height", cfg.Height)
	}
	var img image.Image
	switch format {
	case FormatJPEG:
		img, err = jpeg.Decode(bytes.NewReader(b))
	case FormatPNG:
		img, err = png.Decode(bytes.NewReader(b))
	case FormatWebP:
		img, err = webp.Decode(bytes.NewReader(b))
	}
	if err != nil {
		return processed{}, apperr.Invalid("file is a truncated or corrupt "+format+" image", "file")
	}
	if format == FormatJPEG {
		img = orient(img, jpegOrientation(b))
	}
	out := processed{width: img.Bounds().Dx(), height: img.Bounds().Dy()}
	var buf bytes.Buffer
	if format == FormatPNG || (format == FormatWebP && !opaque(img)) {
		enc := png.Encoder{CompressionLevel: png.BestSpeed}
		if err := enc.Encode(&buf, img); err != nil {
			return processed{}, fmt.Errorf("media: encode png: %w", err)
		}
		out.contentType, out.ext = "image/png", "png"
	} else {
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: jpegQuality}); err != nil {
			return processed{}, fmt.Errorf("media: encode jpeg: %w", err)
		}
		out.contentType, out.ext = "image/jpeg", "jpg"
	}
	out.body = buf.Bytes()
	return out, nil
}

// opaque reports whether every pixel of img is fully opaque.
func opaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return false
}

// jpegOrientation reads the EXIF Orientation tag (1–8) of a JPEG, or 1 when
// there is none. It walks the markers up to the image data and reads only
// IFD0 of an APP1 "Exif" segment.
func jpegOrientation(b []byte) int {
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			return 1
		}
		marker := b[i+1]
		if marker == 0xDA || marker == 0xD9 { // start of scan, end of image
			return 1
		}
		n := int(b[i+2])<<8 | int(b[i+3])
		if n < 2 || i+2+n > len(b) {
			return 1
		}
		seg := b[i+4 : i+2+n]
		if marker == 0xE1 && len(seg) > 14 && string(seg[:6]) == "Exif\x00\x00" {
			return tiffOrientation(seg[6:])
		}
		i += 2 + n
	}
	return 1
}

// tiffOrientation reads tag 0x0112 of IFD0 of a TIFF header.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var u16 func([]byte) int
	var u32 func([]byte) int
	switch string(t[:2]) {
	case "II":
		u16 = func(p []byte) int { return int(p[0]) | int(p[1])<<8 }
		u32 = func(p []byte) int { return int(p[0]) | int(p[1])<<8 | int(p[2])<<16 | int(p[3])<<24 }
	case "MM":
		u16 = func(p []byte) int { return int(p[0])<<8 | int(p[1]) }
		u32 = func(p []byte) int { return int(p[0])<<24 | int(p[1])<<16 | int(p[2])<<8 | int(p[3]) }
	default:
		return 1
	}
	off := u32(t[4:8])
	if off < 8 || off+2 > len(t) {
		return 1
	}
	count := u16(t[off : off+2])
	for k := 0; k < count; k++ {
		e := off + 2 + 12*k
		if e+12 > len(t) {
			return 1
		}
		if u16(t[e:e+2]) == 0x0112 {
			if v := u16(t[e+8 : e+10]); v >= 1 && v <= 8 {
				return v
			}
			return 1
		}
	}
	return 1
}

// orient returns img turned as EXIF orientation o says the camera held it.
func orient(img image.Image, o int) image.Image {
	if o <= 1 || o > 8 {
		return img
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	src := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(src, src.Bounds(), img, b.Min, draw.Src)
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var dx, dy int
			switch o {
			case 2: // mirrored
				dx, dy = w-1-x, y
			case 3: // rotated 180°
				dx, dy = w-1-x, h-1-y
			case 4: // mirrored vertically
				dx, dy = x, h-1-y
			case 5: // transposed
				dx, dy = y, x
			case 6: // rotated 90° clockwise to display
				dx, dy = h-1-y, x
			case 7: // transversed
				dx, dy = h-1-y, w-1-x
			case 8: // rotated 90° counter-clockwise to display
				dx, dy = y, w-1-x
			}
			i, j := src.PixOffset(x, y), dst.PixOffset(dx, dy)
			copy(dst.Pix[j:j+4], src.Pix[i:i+4])
		}
	}
	return dst
}
