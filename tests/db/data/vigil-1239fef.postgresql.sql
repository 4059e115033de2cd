--
-- PostgreSQL database dump
--


-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: alembic_version; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.alembic_version (
    version_num character varying(32) NOT NULL
);


--
-- Name: api_tokens; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.api_tokens (
    id integer NOT NULL,
    username character varying(64) NOT NULL,
    token_hash character varying(64) NOT NULL,
    created_at double precision NOT NULL,
    last_used double precision
);


--
-- Name: api_tokens_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.api_tokens_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: api_tokens_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.api_tokens_id_seq OWNED BY public.api_tokens.id;


--
-- Name: audit_log; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.audit_log (
    id integer NOT NULL,
    "time" double precision NOT NULL,
    username character varying(64),
    action character varying(64) NOT NULL,
    target character varying(255) NOT NULL,
    detail jsonb NOT NULL,
    client_ip character varying(64)
);


--
-- Name: audit_log_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.audit_log_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: audit_log_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.audit_log_id_seq OWNED BY public.audit_log.id;


--
-- Name: auth_sessions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.auth_sessions (
    id character varying(64) NOT NULL,
    username character varying(64) NOT NULL,
    csrf_token character varying(64) NOT NULL,
    created_at double precision NOT NULL,
    last_seen double precision NOT NULL,
    client_ip character varying(64)
);


--
-- Name: events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.events (
    id character varying(64) NOT NULL,
    source character varying(255) NOT NULL,
    app character varying(255) NOT NULL,
    type character varying(128) NOT NULL,
    state character varying(16) NOT NULL,
    start_time double precision NOT NULL,
    end_time double precision,
    frame_index bigint NOT NULL,
    track_id bigint,
    class_id integer,
    class_name character varying(128),
    zone character varying(255),
    line character varying(255),
    attributes jsonb NOT NULL,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: segments; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.segments (
    id integer NOT NULL,
    camera character varying(255) NOT NULL,
    path character varying(1024) NOT NULL,
    start_time double precision NOT NULL,
    end_time double precision NOT NULL,
    size_bytes bigint NOT NULL,
    motion boolean NOT NULL,
    objects boolean NOT NULL,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: segments_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.segments_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: segments_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.segments_id_seq OWNED BY public.segments.id;


--
-- Name: users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.users (
    id integer NOT NULL,
    username character varying(64) NOT NULL,
    password_hash character varying(255) NOT NULL,
    role character varying(16) NOT NULL,
    cameras jsonb,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL
);


--
-- Name: users_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.users_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: users_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.users_id_seq OWNED BY public.users.id;


--
-- Name: api_tokens id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_tokens ALTER COLUMN id SET DEFAULT nextval('public.api_tokens_id_seq'::regclass);


--
-- Name: audit_log id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_log ALTER COLUMN id SET DEFAULT nextval('public.audit_log_id_seq'::regclass);


--
-- Name: segments id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.segments ALTER COLUMN id SET DEFAULT nextval('public.segments_id_seq'::regclass);


--
-- Name: users id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users ALTER COLUMN id SET DEFAULT nextval('public.users_id_seq'::regclass);


--
-- Data for Name: alembic_version; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.alembic_version VALUES ('0004');


--
-- Data for Name: api_tokens; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.api_tokens VALUES (1, 'bob', 'a8cfe5eb88fc5fa182b8c40f630784eb7f93c23dddffb8690f7f66cb59c98e42', 1764000000, NULL);


--
-- Data for Name: audit_log; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.audit_log VALUES (1, 1764000000, 'alice', 'user.add', 'bob', '{"role": "viewer"}', '127.0.0.1');


--
-- Data for Name: auth_sessions; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.auth_sessions VALUES ('ce728a32f3aeaadb1224323f7e984045dc76c1dd936e96ae5e633b9d5ca96ae2', 'alice', 'OqljRo9gQK8hJ6Bdd2gCJcQC2lA2c24U', 1764000000, 1764000000, NULL);


--
-- Data for Name: events; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.events VALUES ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'gate', 'count', 'line_crossing', 'instant', 1764000001.5, NULL, 45, 7, 0, 'person', NULL, 'door', '{"direction": "in"}', '2026-12-05 00:51:15.429368+00');
INSERT INTO public.events VALUES ('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 'yard', 'occ', 'occupancy', 'end', 1764000002, 1764000009, 60, NULL, NULL, NULL, 'lawn', NULL, '{"name": "Zoë ✓", "count": 0, "nested": {"l": [1, 2.5, null]}}', '2026-12-05 00:51:15.42954+00');


--
-- Data for Name: segments; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.segments VALUES (1, 'gate', '/rec/gate/a.mp4', 1764000000, 1764000010, 123456, true, false, '2026-12-05 00:51:15.441286+00');
INSERT INTO public.segments VALUES (2, 'yard', '/rec/yard/b.mp4', 1764000000, 1764000010, 8589934592, false, true, '2026-12-05 00:51:15.44138+00');


--
-- Data for Name: users; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.users VALUES (1, 'alice', '$argon2id$v=19$m=8,t=1,p=1$3PtXYZMLyYsBS8oTDJKNtw$CPN3oUv3dtTLFeZQn48XKwOiln4uhJR2wMUe7aRd6zI', 'admin', 'null', 1764000000, 1764000000);
INSERT INTO public.users VALUES (2, 'bob', '$argon2id$v=19$m=8,t=1,p=1$omEqc+KU2gKOfexY730mrg$kUCV6ucWz3GoFI32tsrb4yOBlCAEFYETzL7f/icMyGA', 'viewer', '["gate"]', 1764000000, 1764000000);


--
-- Name: api_tokens_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.api_tokens_id_seq', 1, true);


--
-- Name: audit_log_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.audit_log_id_seq', 1, true);


--
-- Name: segments_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.segments_id_seq', 2, true);


--
-- Name: users_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.users_id_seq', 2, true);


--
-- Name: alembic_version alembic_version_pkc; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.alembic_version
    ADD CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num);


--
-- Name: api_tokens pk_api_tokens; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_tokens
    ADD CONSTRAINT pk_api_tokens PRIMARY KEY (id);


--
-- Name: audit_log pk_audit_log; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_log
    ADD CONSTRAINT pk_audit_log PRIMARY KEY (id);


--
-- Name: auth_sessions pk_auth_sessions; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_sessions
    ADD CONSTRAINT pk_auth_sessions PRIMARY KEY (id);


--
-- Name: events pk_events; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT pk_events PRIMARY KEY (id);


--
-- Name: segments pk_segments; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.segments
    ADD CONSTRAINT pk_segments PRIMARY KEY (id);


--
-- Name: users pk_users; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT pk_users PRIMARY KEY (id);


--
-- Name: ix_api_tokens_token_hash; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX ix_api_tokens_token_hash ON public.api_tokens USING btree (token_hash);


--
-- Name: ix_api_tokens_username; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_api_tokens_username ON public.api_tokens USING btree (username);


--
-- Name: ix_audit_log_action; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_audit_log_action ON public.audit_log USING btree (action);


--
-- Name: ix_audit_log_time; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_audit_log_time ON public.audit_log USING btree ("time");


--
-- Name: ix_audit_log_username; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_audit_log_username ON public.audit_log USING btree (username);


--
-- Name: ix_auth_sessions_username; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_auth_sessions_username ON public.auth_sessions USING btree (username);


--
-- Name: ix_events_app; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_events_app ON public.events USING btree (app);


--
-- Name: ix_events_source_start_time; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_events_source_start_time ON public.events USING btree (source, start_time);


--
-- Name: ix_events_start_time; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_events_start_time ON public.events USING btree (start_time);


--
-- Name: ix_events_type_source_start_time; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_events_type_source_start_time ON public.events USING btree (type, source, start_time);


--
-- Name: ix_segments_camera_start_time; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_segments_camera_start_time ON public.segments USING btree (camera, start_time);


--
-- Name: ix_segments_path; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX ix_segments_path ON public.segments USING btree (path);


--
-- Name: ix_segments_start_time; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_segments_start_time ON public.segments USING btree (start_time);


--
-- Name: ix_users_username; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX ix_users_username ON public.users USING btree (username);


--
-- PostgreSQL database dump complete
--


