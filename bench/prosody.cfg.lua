-- Prosody 0.12 (Debian) for bench/compare.sh. @DIR@ and @PORT@ are
-- replaced by the script. The module list is the anchor config's
-- (../shared/bench/configs/prosody.cfg.lua), so that the features hearth
-- always runs (carbons, blocking, private XML, vCard, version) are on here
-- too: TLS, SCRAM-SHA-1, roster, offline storage, MUC, open registration;
-- no archive, no stream management, no PEP, no rate limits. Federation is
-- off in all three benchmark configs, so dialback (an s2s module) is left
-- out.
run_as_root = true
pidfile = "@DIR@/prosody.pid"
data_path = "@DIR@/data"
log = { error = "@DIR@/prosody.log" }
interfaces = { "127.0.0.1" }
c2s_ports = { @PORT@ }
s2s_ports = { }
http_ports = { }
https_ports = { }
c2s_require_encryption = true
allow_registration = true
registration_throttle_max = nil
min_seconds_between_registrations = 0
authentication = "internal_hashed"
storage = "internal"
modules_enabled = {
  "roster"; "saslauth"; "tls"; "disco"; "carbons"; "private";
  "blocklist"; "vcard_legacy"; "version"; "uptime"; "time"; "ping";
  "register"; "offline";
}
modules_disabled = { "s2s" }
ssl = { key = "@DIR@/cert.key"; certificate = "@DIR@/cert.crt" }

VirtualHost "localhost"

Component "conference.localhost" "muc"
  restrict_room_creation = false
  muc_room_default_history_length = 0
