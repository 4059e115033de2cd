BEGIN TRANSACTION;
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO "alembic_version" VALUES('0004');
CREATE TABLE api_tokens (
	id INTEGER NOT NULL, 
	username VARCHAR(64) NOT NULL, 
	token_hash VARCHAR(64) NOT NULL, 
	created_at DOUBLE NOT NULL, 
	last_used DOUBLE, 
	CONSTRAINT pk_api_tokens PRIMARY KEY (id)
);
INSERT INTO "api_tokens" VALUES(1,'bob','3736a2d41fa5e336c306412cfdd0075915b60be835768d3a9352697f40d1ce99',1764000000.0,NULL);
CREATE TABLE audit_log (
	id INTEGER NOT NULL, 
	time DOUBLE NOT NULL, 
	username VARCHAR(64), 
	action VARCHAR(64) NOT NULL, 
	target VARCHAR(255) NOT NULL, 
	detail JSON NOT NULL, 
	client_ip VARCHAR(64), 
	CONSTRAINT pk_audit_log PRIMARY KEY (id)
);
INSERT INTO "audit_log" VALUES(1,1764000000.0,'alice','user.add','bob','{"role": "viewer"}','127.0.0.1');
CREATE TABLE auth_sessions (
	id VARCHAR(64) NOT NULL, 
	username VARCHAR(64) NOT NULL, 
	csrf_token VARCHAR(64) NOT NULL, 
	created_at DOUBLE NOT NULL, 
	last_seen DOUBLE NOT NULL, 
	client_ip VARCHAR(64), 
	CONSTRAINT pk_auth_sessions PRIMARY KEY (id)
);
INSERT INTO "auth_sessions" VALUES('8df01bfdcb9c1bf856715a6f6e419685edbf9b34057d1dfad6a3dc82ad78af75','alice','UOlCmo5hn3cbM8byeAG-vJbSxAbfxvQ0',1764000000.0,1764000000.0,NULL);
CREATE TABLE events (
	id VARCHAR(64) NOT NULL, 
	source VARCHAR(255) NOT NULL, 
	app VARCHAR(255) NOT NULL, 
	type VARCHAR(128) NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	start_time DOUBLE NOT NULL, 
	end_time DOUBLE, 
	frame_index BIGINT NOT NULL, 
	track_id BIGINT, 
	class_id INTEGER, 
	class_name VARCHAR(128), 
	zone VARCHAR(255), 
	line VARCHAR(255), 
	attributes JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_events PRIMARY KEY (id)
);
INSERT INTO "events" VALUES('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa','gate','count','line_crossing','instant',1764000001.5,NULL,45,7,0,'person',NULL,'door','{"direction": "in"}','2026-12-05 00:51:12.663501');
INSERT INTO "events" VALUES('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb','yard','occ','occupancy','end',1764000002.0,1764000009.0,60,NULL,NULL,NULL,'lawn',NULL,'{"count": 0, "name": "Zo\u00eb \u2713", "nested": {"l": [1, 2.5, null]}}','2026-12-05 00:51:12.663621');
CREATE TABLE segments (
	id INTEGER NOT NULL, 
	camera VARCHAR(255) NOT NULL, 
	path VARCHAR(1024) NOT NULL, 
	start_time DOUBLE NOT NULL, 
	end_time DOUBLE NOT NULL, 
	size_bytes BIGINT NOT NULL, 
	motion BOOLEAN NOT NULL, 
	objects BOOLEAN NOT NULL, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_segments PRIMARY KEY (id)
);
INSERT INTO "segments" VALUES(1,'gate','/rec/gate/a.mp4',1764000000.0,1764000010.0,123456,1,0,'2026-12-05 00:51:12.669481');
INSERT INTO "segments" VALUES(2,'yard','/rec/yard/b.mp4',1764000000.0,1764000010.0,8589934592,0,1,'2026-12-05 00:51:12.669541');
CREATE TABLE users (
	id INTEGER NOT NULL, 
	username VARCHAR(64) NOT NULL, 
	password_hash VARCHAR(255) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	cameras JSON, 
	created_at DOUBLE NOT NULL, 
	updated_at DOUBLE NOT NULL, 
	CONSTRAINT pk_users PRIMARY KEY (id)
);
INSERT INTO "users" VALUES(1,'alice','$argon2id$v=19$m=8,t=1,p=1$ZWiYFj1EnUZAMll/5csGCg$IS4OkYcfp85IUv7XFdlQrmcy3QM0Y46tiNThTQwMIN0','admin','null',1764000000.0,1764000000.0);
INSERT INTO "users" VALUES(2,'bob','$argon2id$v=19$m=8,t=1,p=1$DD8gBV+tj2w7BBV2alf87A$ME7JrpjrRyZZiRAvfHuXji/y20MSig8M4jyvIFuAZb0','viewer','["gate"]',1764000000.0,1764000000.0);
CREATE INDEX ix_events_source_start_time ON events (source, start_time);
CREATE INDEX ix_events_app ON events (app);
CREATE INDEX ix_segments_camera_start_time ON segments (camera, start_time);
CREATE INDEX ix_segments_start_time ON segments (start_time);
CREATE UNIQUE INDEX ix_segments_path ON segments (path);
CREATE UNIQUE INDEX ix_users_username ON users (username);
CREATE INDEX ix_auth_sessions_username ON auth_sessions (username);
CREATE UNIQUE INDEX ix_api_tokens_token_hash ON api_tokens (token_hash);
CREATE INDEX ix_api_tokens_username ON api_tokens (username);
CREATE INDEX ix_audit_log_time ON audit_log (time);
CREATE INDEX ix_audit_log_username ON audit_log (username);
CREATE INDEX ix_audit_log_action ON audit_log (action);
CREATE INDEX ix_events_type_source_start_time ON events (type, source, start_time);
CREATE INDEX ix_events_start_time ON events (start_time);
COMMIT;
