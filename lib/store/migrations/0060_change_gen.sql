-- 0060: a change counter for the daemons. edged and tunneld reload when what they serve or
-- decide on changes; PRAGMA data_version also moved with every audit row, session touch and
-- failure count the daemons write themselves, so each of them reloaded about once a second
-- under traffic. Triggers bump change_gen.gen on every write to the tables below (sessions:
-- only revocation and removal); the daemons poll that one row (store::Db::change_gen).
CREATE TABLE change_gen (
  id  INTEGER PRIMARY KEY CHECK (id = 1),
  gen INTEGER NOT NULL
);
INSERT INTO change_gen (id, gen) VALUES (1, 0);
CREATE TRIGGER resources_ai_gen AFTER INSERT ON resources BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER resources_au_gen AFTER UPDATE ON resources BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER resources_ad_gen AFTER DELETE ON resources BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER targets_ai_gen AFTER INSERT ON targets BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER targets_au_gen AFTER UPDATE ON targets BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER targets_ad_gen AFTER DELETE ON targets BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER resource_auth_ai_gen AFTER INSERT ON resource_auth BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER resource_auth_au_gen AFTER UPDATE ON resource_auth BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER resource_auth_ad_gen AFTER DELETE ON resource_auth BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER resource_email_allow_ai_gen AFTER INSERT ON resource_email_allow BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER resource_email_allow_au_gen AFTER UPDATE ON resource_email_allow BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER resource_email_allow_ad_gen AFTER DELETE ON resource_email_allow BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER resource_roles_ai_gen AFTER INSERT ON resource_roles BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER resource_roles_au_gen AFTER UPDATE ON resource_roles BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER resource_roles_ad_gen AFTER DELETE ON resource_roles BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER resource_users_ai_gen AFTER INSERT ON resource_users BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER resource_users_au_gen AFTER UPDATE ON resource_users BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER resource_users_ad_gen AFTER DELETE ON resource_users BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER rules_ai_gen AFTER INSERT ON rules BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER rules_au_gen AFTER UPDATE ON rules BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER rules_ad_gen AFTER DELETE ON rules BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER sites_ai_gen AFTER INSERT ON sites BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER sites_au_gen AFTER UPDATE ON sites BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER sites_ad_gen AFTER DELETE ON sites BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER forwards_ai_gen AFTER INSERT ON forwards BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER forwards_au_gen AFTER UPDATE ON forwards BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER forwards_ad_gen AFTER DELETE ON forwards BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER users_ai_gen AFTER INSERT ON users BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER users_au_gen AFTER UPDATE ON users BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER users_ad_gen AFTER DELETE ON users BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER user_roles_ai_gen AFTER INSERT ON user_roles BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER user_roles_au_gen AFTER UPDATE ON user_roles BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER user_roles_ad_gen AFTER DELETE ON user_roles BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER roles_ai_gen AFTER INSERT ON roles BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER roles_au_gen AFTER UPDATE ON roles BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER roles_ad_gen AFTER DELETE ON roles BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER share_links_ai_gen AFTER INSERT ON share_links BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER share_links_au_gen AFTER UPDATE ON share_links BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER share_links_ad_gen AFTER DELETE ON share_links BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER api_keys_ai_gen AFTER INSERT ON api_keys BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER api_keys_au_gen AFTER UPDATE ON api_keys BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER api_keys_ad_gen AFTER DELETE ON api_keys BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER sessions_revoke_gen AFTER UPDATE OF revoked ON sessions BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER sessions_ad_gen AFTER DELETE ON sessions BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER meta_ai_gen AFTER INSERT ON meta BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER meta_au_gen AFTER UPDATE ON meta BEGIN UPDATE change_gen SET gen = gen + 1; END;
CREATE TRIGGER meta_ad_gen AFTER DELETE ON meta BEGIN UPDATE change_gen SET gen = gen + 1; END;
