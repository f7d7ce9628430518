// Package deploy holds no Go code: it is the folder of what installs kioskd
// on a booth PC (the systemd units, the udev rule, the kiosk browser launcher,
// the documented environment file, install.sh and the .deb build), and its
// tests check those files. See README.md in this folder.
package deploy
