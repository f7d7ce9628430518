// Package bundle writes and reads USB export bundles: the station's records
// not yet accepted by central, carried on a stick when the network is down
// for long (`kioskd export -to DIR`), and stored at central exactly as if
// uploaded (`kioskd central import DIR`).
//
// 中文摘要：断网较久时，工作站把未被中心接收的记录加密写到U盘（导出包）；中心导入时逐条校验，效果与网络上传完全相同，
// 记录ID保证不会重复。捡到U盘的人没有工作站令牌，既读不出照片和身份证号，也改不了包而不被发现。
//
// # Layout
//
// A bundle is one folder, parentDir/kioskd-<station>-<UTC 20060102T150405Z>:
//
//	bundle.json            the index, plaintext JSON (Index): format
//	                       "kioskd-bundle/1", station_id, created_at, key_id,
//	                       records [{record_id, file, sha256 of the file}],
//	                       blobs [{sha256 and size of the plaintext, file,
//	                       enc_sha256 of the file}]. IDs, hashes and sizes only.
//	bundle.json.sig        hex HMAC-SHA256 of bundle.json's bytes and "\n"
//	records/<id>.json.enc  the record's wire.Manifest, canonical JSON, sealed
//	                       with additional data "record:<id>"
//	blobs/<sha>.enc        a photo or original frame, sealed with additional
//	                       data "blob:<sha>"; stored once however many
//	                       records name it
//
// Every sealed file is "KBN1" || 12-byte random nonce || AES-256-GCM
// ciphertext and tag (Overhead bytes more than its plaintext). The
// additional data binds each file to its name, so a file copied over
// another's fails to open.
//
// # Keys
//
// All keys come from the SHA-256 of the station's bearer token, which the
// station can compute and central keeps (its stations file), by HKDF-SHA256
// with no salt:
//
//	info "kioskd/bundle/v1"         32 bytes, the AES-256-GCM file key
//	info "kioskd/bundle/v1/index"   32 bytes, the HMAC key of bundle.json
//	info "kioskd/bundle/v1/key-id"  8 bytes, hex in the index as key_id
//
// key_id is a public fingerprint: it lets Open tell a bundle sealed under
// another token (ErrWrongKey: the station's token was rotated since, or a
// station of the same name at another site) from a changed one (ErrTampered). It reveals
// nothing about a 256-bit token. Rotating a station's token makes its older
// bundles unreadable; import them before rotating.
//
// # What is checked
//
// Open reads bundle.json (at most MaxIndexBytes) and its signature, asks
// keyFor for the station's key, and only then decodes the index strictly
// (DecodeIndex): exact fields, at most MaxRecords records and two blobs per
// record, unique IDs and hashes, and every file name exactly the one its ID
// or hash gives, so no index, however hostile, makes the reader open a file
// outside the folder (files are opened through os.Root as well, which also
// refuses symbolic links that leave it). Each then verifies each record
// before handing it over: file hash against the index, GCM tag, manifest
// valid per wire.DecodeManifest and of the bundle's station and record ID,
// blob hashes and sizes. Errors name the record ID, never the student.
//
// # Crashes and pulled sticks
//
// The Writer writes into parentDir/.partial-<random>/, fsyncing each file
// as it goes; Close writes the index and signature last, fsyncs the
// folders, renames the folder to its final name and fsyncs parentDir. A
// crash or a pulled stick before the rename leaves only a .partial- folder,
// which Open refuses and List skips and which is safe to delete; after it,
// a whole bundle. Abort removes the partial folder.
//
// # Exactly once
//
// A bundle carries the same manifests the uplink would PUT, so central
// stores each record under its ID as an upload would: importing a bundle
// twice, or importing it and later receiving the same record online, gives
// one record and the same receipt. Writing a bundle settles nothing: a
// record stays pending at the station until central's receipt for it
// arrives (online, or with a review), so a lost stick loses nothing.
package bundle
