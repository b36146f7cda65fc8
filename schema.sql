-- Homer schema for MariaDB 10.6+ / MySQL 8: the same tables, columns and indexes
-- as persistence/models.py (tests/test_schema.py checks). The app runs this file on
-- start when DATABASE_URL is MySQL; every statement is safe to run again.

CREATE TABLE IF NOT EXISTS login_throttle (
  `key` VARCHAR(191) NOT NULL,
  failures INTEGER NOT NULL,
  window_start DATETIME(6) NOT NULL,
  PRIMARY KEY (`key`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS users (
  id VARCHAR(36) NOT NULL,
  email VARCHAR(255) NOT NULL,
  phone VARCHAR(20) NOT NULL,
  password_hash VARCHAR(60) NOT NULL,
  user_type VARCHAR(10) NOT NULL,
  full_name VARCHAR(120) NOT NULL,
  profile_photo_url VARCHAR(500),
  date_of_birth DATE,
  gender VARCHAR(20),
  subscription_tier VARCHAR(10) NOT NULL,
  subscription_start DATETIME(6),
  subscription_end DATETIME(6),
  contacts_used INTEGER NOT NULL,
  is_verified_renter BOOL NOT NULL,
  is_verified_owner BOOL NOT NULL,
  renter_verification_status VARCHAR(20) NOT NULL,
  owner_verification_status VARCHAR(20) NOT NULL,
  renter_preferences JSON,
  employment_info JSON,
  profile_visibility BOOL NOT NULL,
  is_admin BOOL NOT NULL,
  is_active BOOL NOT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  last_login DATETIME(6),
  PRIMARY KEY (id),
  UNIQUE KEY uq_users_email (email),
  UNIQUE KEY uq_users_phone (phone),
  KEY ix_users_created_at (created_at),
  KEY ix_users_type_visibility (user_type, profile_visibility)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS audit_logs (
  id VARCHAR(36) NOT NULL,
  admin_id VARCHAR(36),
  action_type VARCHAR(50) NOT NULL,
  entity_type VARCHAR(30) NOT NULL,
  entity_id VARCHAR(64) NOT NULL,
  old_values JSON,
  new_values JSON,
  ip_address VARCHAR(45),
  user_agent VARCHAR(500),
  created_at DATETIME(6) NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT fk_audit_logs_admin_id FOREIGN KEY (admin_id) REFERENCES users (id) ON DELETE SET NULL,
  KEY ix_audit_logs_action (action_type, created_at),
  KEY ix_audit_logs_admin (admin_id, created_at),
  KEY ix_audit_logs_entity (entity_type, entity_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS notifications (
  id VARCHAR(36) NOT NULL,
  user_id VARCHAR(36) NOT NULL,
  type VARCHAR(40) NOT NULL,
  title VARCHAR(200) NOT NULL,
  message TEXT NOT NULL,
  action_url VARCHAR(500),
  is_read BOOL NOT NULL,
  created_at DATETIME(6) NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT fk_notifications_user_id FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  KEY ix_notifications_user_created (user_id, created_at),
  KEY ix_notifications_user_unread (user_id, is_read, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS properties (
  id VARCHAR(36) NOT NULL,
  owner_id VARCHAR(36) NOT NULL,
  title VARCHAR(200) NOT NULL,
  description TEXT NOT NULL,
  property_type VARCHAR(20) NOT NULL,
  bhk_type VARCHAR(5) NOT NULL,
  rent NUMERIC(12, 2) NOT NULL,
  security_deposit NUMERIC(12, 2) NOT NULL,
  maintenance_charges NUMERIC(12, 2) NOT NULL,
  address VARCHAR(500) NOT NULL,
  city VARCHAR(100) NOT NULL,
  state VARCHAR(100) NOT NULL,
  pincode VARCHAR(10) NOT NULL,
  locality VARCHAR(150) NOT NULL,
  latitude FLOAT,
  longitude FLOAT,
  landmarks JSON,
  details JSON,
  furnishing VARCHAR(30),
  images JSON,
  video_url VARCHAR(500),
  virtual_tour_url VARCHAR(500),
  is_verified BOOL NOT NULL,
  verification_tier VARCHAR(20),
  verification_date DATETIME(6),
  verification_fee_paid BOOL NOT NULL,
  lifestyle_data JSON,
  total_views INTEGER NOT NULL,
  premium_views INTEGER NOT NULL,
  total_contacts INTEGER NOT NULL,
  shortlisted_count INTEGER NOT NULL,
  last_viewed DATETIME(6),
  status VARCHAR(10) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT fk_properties_owner_id FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE,
  KEY ix_properties_city_filters (status, city, bhk_type, rent, property_type, furnishing, is_verified, created_at),
  KEY ix_properties_city_bhk_order (status, city, bhk_type, is_verified, created_at, id, rent),
  KEY ix_properties_city_locality (status, city, locality, is_verified, created_at),
  KEY ix_properties_city_order (status, city, is_verified, created_at),
  KEY ix_properties_city_rent (status, city, rent),
  KEY ix_properties_default_order (status, is_verified, created_at),
  KEY ix_properties_geo (status, latitude, longitude, is_verified, created_at),
  KEY ix_properties_locality (status, locality, is_verified, created_at),
  KEY ix_properties_owner (owner_id, status),
  KEY ix_properties_recent (status, created_at),
  KEY ix_properties_rent (status, rent)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The words of active listings, for `q` (persistence/words.py): a word's
-- listings in the default sort's order, and each listing's words by id.
CREATE TABLE IF NOT EXISTS property_words (
  word VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
  is_verified BOOL NOT NULL,
  created_at DATETIME(6) NOT NULL,
  property_id VARCHAR(36) NOT NULL,
  PRIMARY KEY (word, is_verified, created_at, property_id),
  CONSTRAINT fk_property_words_property_id FOREIGN KEY (property_id) REFERENCES properties (id) ON DELETE CASCADE,
  KEY ix_property_words_property (property_id, word)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS realtime_tickets (
  ticket_hash VARCHAR(64) NOT NULL,
  user_id VARCHAR(36) NOT NULL,
  jti VARCHAR(36) NOT NULL,
  token_expires_at DATETIME(6) NOT NULL,
  expires_at DATETIME(6) NOT NULL,
  PRIMARY KEY (ticket_hash),
  CONSTRAINT fk_realtime_tickets_user_id FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  KEY ix_realtime_tickets_user (user_id, expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS revoked_tokens (
  jti VARCHAR(36) NOT NULL,
  user_id VARCHAR(36) NOT NULL,
  expires_at DATETIME(6) NOT NULL,
  PRIMARY KEY (jti),
  CONSTRAINT fk_revoked_tokens_user_id FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  KEY ix_revoked_tokens_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS chats (
  id VARCHAR(36) NOT NULL,
  property_id VARCHAR(36) NOT NULL,
  renter_id VARCHAR(36) NOT NULL,
  owner_id VARCHAR(36) NOT NULL,
  initiated_by VARCHAR(10) NOT NULL,
  status VARCHAR(10) NOT NULL,
  last_seq INTEGER NOT NULL,
  renter_read_seq INTEGER NOT NULL,
  owner_read_seq INTEGER NOT NULL,
  renter_archived_seq INTEGER,
  owner_archived_seq INTEGER,
  created_at DATETIME(6) NOT NULL,
  last_message_at DATETIME(6) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_chats_property_renter (property_id, renter_id),
  CONSTRAINT fk_chats_property_id FOREIGN KEY (property_id) REFERENCES properties (id) ON DELETE CASCADE,
  CONSTRAINT fk_chats_renter_id FOREIGN KEY (renter_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT fk_chats_owner_id FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE,
  KEY ix_chats_owner (owner_id, status, last_message_at),
  KEY ix_chats_renter (renter_id, status, last_message_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS contacts (
  user_id VARCHAR(36) NOT NULL,
  property_id VARCHAR(36) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  PRIMARY KEY (user_id, property_id),
  CONSTRAINT fk_contacts_user_id FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT fk_contacts_property_id FOREIGN KEY (property_id) REFERENCES properties (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS shortlists (
  id VARCHAR(36) NOT NULL,
  user_id VARCHAR(36) NOT NULL,
  property_id VARCHAR(36) NOT NULL,
  notes TEXT,
  created_at DATETIME(6) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_shortlists_user_property (user_id, property_id),
  CONSTRAINT fk_shortlists_user_id FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT fk_shortlists_property_id FOREIGN KEY (property_id) REFERENCES properties (id) ON DELETE CASCADE,
  KEY ix_shortlists_property (property_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS transactions (
  id VARCHAR(36) NOT NULL,
  user_id VARCHAR(36) NOT NULL,
  transaction_type VARCHAR(40) NOT NULL,
  property_id VARCHAR(36),
  amount NUMERIC(12, 2) NOT NULL,
  currency VARCHAR(3) NOT NULL,
  payment_gateway VARCHAR(20) NOT NULL,
  payment_id VARCHAR(100),
  order_id VARCHAR(100) NOT NULL,
  payment_status VARCHAR(10) NOT NULL,
  is_mock BOOL NOT NULL,
  metadata JSON,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT fk_transactions_user_id FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT fk_transactions_property_id FOREIGN KEY (property_id) REFERENCES properties (id) ON DELETE SET NULL,
  UNIQUE KEY uq_transactions_payment_id (payment_id),
  UNIQUE KEY uq_transactions_order_id (order_id),
  KEY ix_transactions_property (property_id, transaction_type, payment_status),
  KEY ix_transactions_status (payment_status, created_at),
  KEY ix_transactions_user (user_id, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS uploads (
  id VARCHAR(36) NOT NULL,
  user_id VARCHAR(36) NOT NULL,
  purpose VARCHAR(20) NOT NULL,
  property_id VARCHAR(36),
  document_type VARCHAR(40),
  stored_name VARCHAR(100) NOT NULL,
  original_name VARCHAR(255) NOT NULL,
  content_type VARCHAR(100) NOT NULL,
  size INTEGER NOT NULL,
  url VARCHAR(500) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT fk_uploads_user_id FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT fk_uploads_property_id FOREIGN KEY (property_id) REFERENCES properties (id) ON DELETE CASCADE,
  UNIQUE KEY uq_uploads_url (url),
  KEY ix_uploads_user (user_id, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS verifications (
  id VARCHAR(64) NOT NULL,
  kind VARCHAR(10) NOT NULL,
  user_id VARCHAR(36) NOT NULL,
  property_id VARCHAR(36),
  status VARCHAR(10) NOT NULL,
  documents JSON,
  employment_details JSON,
  rejection_reason TEXT,
  submitted_at DATETIME(6) NOT NULL,
  reviewed_at DATETIME(6),
  reviewed_by VARCHAR(36),
  PRIMARY KEY (id),
  CONSTRAINT fk_verifications_user_id FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT fk_verifications_property_id FOREIGN KEY (property_id) REFERENCES properties (id) ON DELETE CASCADE,
  CONSTRAINT fk_verifications_reviewed_by FOREIGN KEY (reviewed_by) REFERENCES users (id) ON DELETE SET NULL,
  KEY ix_verifications_status (status, submitted_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS messages (
  id VARCHAR(36) NOT NULL,
  chat_id VARCHAR(36) NOT NULL,
  seq INTEGER NOT NULL,
  sender_id VARCHAR(36) NOT NULL,
  sender_type VARCHAR(10) NOT NULL,
  body TEXT NOT NULL,
  attachments JSON,
  client_id VARCHAR(64) COLLATE utf8mb4_bin,
  created_at DATETIME(6) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_messages_chat_seq (chat_id, seq),
  UNIQUE KEY uq_messages_sender_client (sender_id, client_id),
  CONSTRAINT fk_messages_chat_id FOREIGN KEY (chat_id) REFERENCES chats (id) ON DELETE CASCADE,
  CONSTRAINT fk_messages_sender_id FOREIGN KEY (sender_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One chat message stored in one round trip: lock the chat, check the sender
-- may write, give the message the chat's next seq, move the chat on, insert the
-- message and commit (persistence/sends.py, `store_one`; the same rules as its
-- `store_batch`, which tests/test_send_procedure.py holds it to). Answers one
-- row: whether it stored the message, and the chat as it was before (NULLs for
-- an unknown chat). A repeated client_id fails the INSERT on its unique key,
-- and the transaction is rolled back. The message is stamped no earlier than
-- the chat's last one. The name carries a version: a changed body gets a new
-- name, so a server never runs another version's rules (v1 took p_created_at
-- as it came; drop it once no process of an older release runs).
DELIMITER //
CREATE PROCEDURE IF NOT EXISTS store_send_v2(
  IN p_id VARCHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
  IN p_chat_id VARCHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
  IN p_sender_id VARCHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
  IN p_body TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
  IN p_attachments LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
  IN p_client_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
  IN p_created_at DATETIME(6)
)
MODIFIES SQL DATA
BEGIN
  DECLARE v_renter_id, v_owner_id VARCHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_status, v_role VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_last_seq, v_renter_read_seq, v_owner_read_seq INTEGER;
  DECLARE v_last_message_at, v_at DATETIME(6);
  DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
  START TRANSACTION;
  SELECT renter_id, owner_id, status, last_seq, renter_read_seq, owner_read_seq, last_message_at
    INTO v_renter_id, v_owner_id, v_status, v_last_seq, v_renter_read_seq, v_owner_read_seq, v_last_message_at
    FROM chats WHERE id = p_chat_id FOR UPDATE;
  SET v_role = CASE p_sender_id WHEN v_renter_id THEN 'renter' WHEN v_owner_id THEN 'owner' END;
  IF v_role IS NULL OR v_status = 'blocked' THEN
    ROLLBACK;
    SELECT 0, v_renter_id, v_owner_id, v_status, v_last_seq, v_renter_read_seq, v_owner_read_seq, v_last_message_at;
  ELSE
    SET v_at = GREATEST(p_created_at, v_last_message_at);
    UPDATE chats
      SET last_seq = v_last_seq + 1,
          renter_read_seq = IF(v_role = 'renter', v_last_seq + 1, renter_read_seq),
          owner_read_seq = IF(v_role = 'owner', v_last_seq + 1, owner_read_seq),
          status = IF(status = 'archived', 'active', status),
          last_message_at = v_at
      WHERE id = p_chat_id;
    INSERT INTO messages (id, chat_id, seq, sender_id, sender_type, body, attachments, client_id, created_at)
      VALUES (p_id, p_chat_id, v_last_seq + 1, p_sender_id, v_role, p_body, p_attachments, p_client_id, v_at);
    COMMIT;
    SELECT 1, v_renter_id, v_owner_id, v_status, v_last_seq, v_renter_read_seq, v_owner_read_seq, v_last_message_at;
  END IF;
END //
DELIMITER ;
