import { segments } from './terms';

/**
 * A small Japanese → English glossary of the words technical documentation is made of, so that the offline
 * extractive model can tell which sentence of an English passage a Japanese question is about ("S3 バケットを
 * 暗号化するには？" meets "Define a KMS-encrypted bucket"). Hand-written rather than a dictionary package: the
 * maintained ones (JMdict and its wrappers) are tens of megabytes, which would go into every Lambda bundle that holds
 * the chat model, for the few hundred words documentation questions use. A word not listed is not translated: the
 * question is then matched by its Latin words (product names, API names) alone, and declined when those do not meet.
 *
 * The answer model matches a Japanese question's English against English passages with it, and the offline
 * embeddings add that English to a Japanese query's features (a query only: the documents' features are unchanged,
 * so tables built before stay valid).
 */
export const GLOSSARY_JA_EN: ReadonlyArray<readonly [string, string]> = [
  ['暗号化', 'encrypt encryption encrypted'],
  ['暗号', 'encryption'],
  ['復号', 'decrypt'],
  ['鍵', 'key'],
  ['キー', 'key'],
  ['バケット', 'bucket'],
  ['オブジェクト', 'object'],
  ['関数', 'function'],
  ['作成', 'create'],
  ['削除', 'delete remove'],
  ['設定', 'configure configuration setting set'],
  ['有効', 'enable enabled'],
  ['無効', 'disable disabled'],
  ['権限', 'permission grant'],
  ['許可', 'allow grant permission'],
  ['付与', 'grant'],
  ['ログ', 'log logging'],
  ['監視', 'monitor monitoring alarm'],
  ['アラーム', 'alarm'],
  ['メトリクス', 'metric'],
  ['通知', 'notification notify'],
  ['証明書', 'certificate'],
  ['ドメイン', 'domain'],
  ['キュー', 'queue'],
  ['テーブル', 'table'],
  ['ユーザー', 'user'],
  ['ロール', 'role'],
  ['ポリシー', 'policy'],
  ['タグ', 'tag'],
  ['バージョニング', 'versioning versioned'],
  ['バージョン', 'version'],
  ['ライフサイクル', 'lifecycle'],
  ['ルール', 'rule'],
  ['スケジュール', 'schedule'],
  ['環境変数', 'environment variable'],
  ['タイムアウト', 'timeout'],
  ['メモリ', 'memory'],
  ['レイヤー', 'layer'],
  ['イメージ', 'image'],
  ['コンテナ', 'container'],
  ['クラスター', 'cluster'],
  ['クラスタ', 'cluster'],
  ['ネットワーク', 'network'],
  ['サブネット', 'subnet'],
  ['セキュリティグループ', 'security group'],
  ['ロードバランサー', 'load balancer'],
  ['自動', 'automatic auto'],
  ['スケーリング', 'scaling scale'],
  ['ストリーム', 'stream'],
  ['イベント', 'event'],
  ['トピック', 'topic'],
  ['購読', 'subscription subscribe'],
  ['サブスクリプション', 'subscription'],
  ['送信', 'send'],
  ['受信', 'receive'],
  ['保存', 'store save'],
  ['保持', 'retention retain'],
  ['期限', 'expiration expire'],
  ['シークレット', 'secret'],
  ['パスワード', 'password'],
  ['ローテーション', 'rotation rotate'],
  ['認証', 'authentication auth'],
  ['エンドポイント', 'endpoint'],
  ['静的', 'static'],
  ['ウェブサイト', 'website'],
  ['ホスティング', 'hosting'],
  ['配信', 'distribution deliver'],
  ['キャッシュ', 'cache caching'],
  ['リージョン', 'region'],
  ['アカウント', 'account'],
  ['スタック', 'stack'],
  ['デプロイ', 'deploy deployment'],
  ['出力', 'output'],
  ['パラメータ', 'parameter'],
  ['パラメーター', 'parameter'],
  ['再試行', 'retry'],
  ['リトライ', 'retry'],
  ['エラー', 'error'],
  ['失敗', 'fail failure'],
  ['メッセージ', 'message'],
  ['処理', 'process'],
  ['公開', 'public'],
  ['パブリック', 'public'],
  ['プライベート', 'private'],
  ['ブロック', 'block'],
  ['ポイントインタイムリカバリ', 'point-in-time recovery'],
  ['リカバリ', 'recovery'],
  ['回復', 'recovery'],
  ['スキャン', 'scan'],
  ['リポジトリ', 'repository'],
  ['ロググループ', 'log group'],
  ['保持期間', 'retention'],
  ['クエリ', 'query'],
  ['インデックス', 'index'],
  ['アイテム', 'item'],
  ['プッシュ', 'push'],
  ['プル', 'pull'],
  ['ダッシュボード', 'dashboard'],
  ['グラフ', 'graph'],
  ['フィルター', 'filter'],
  ['フィルタ', 'filter'],
  ['ポリシー文', 'policy statement'],
  ['境界', 'boundary'],
  ['プロバイダー', 'provider'],
  ['検証', 'validation validate'],
  ['署名', 'signing sign'],
  ['非公開', 'private'],
  ['アクセス', 'access'],
  ['レプリケーション', 'replication replicate'],
  ['複製', 'replication replicate'],
  ['接続', 'connect connection'],
  ['データベース', 'database'],
  ['インスタンス', 'instance'],
  ['パイプライン', 'pipeline'],
  ['ビルド', 'build'],
  ['定義', 'define definition'],
  ['追加', 'add'],
  ['変更', 'change modify'],
  ['更新', 'update'],
  ['取得', 'get retrieve'],
  ['読み取り', 'read'],
  ['書き込み', 'write'],
  ['実行', 'run execute execution'],
  ['呼び出', 'invoke call'],
  ['並列', 'parallel concurrency'],
  ['同時実行', 'concurrency concurrent'],
  ['ステートマシン', 'state machine'],
  ['タスク', 'task'],
  ['ワークフロー', 'workflow'],
  ['ファイル', 'file'],
  ['フォルダ', 'folder directory'],
  ['ディレクトリ', 'directory'],
  ['依存', 'dependency dependencies'],
  ['バンドル', 'bundle bundling'],
  ['ランタイム', 'runtime'],
  ['ハンドラー', 'handler'],
  ['トリガー', 'trigger'],
  ['ゲートウェイ', 'gateway'],
  ['ルート', 'route root'],
  ['メール', 'email'],
  ['電話', 'phone'],
  ['料金', 'cost price pricing'],
  ['費用', 'cost'],
  ['容量', 'capacity'],
  ['上限', 'limit maximum'],
  ['制限', 'limit'],
  ['サイズ', 'size'],
  ['バックアップ', 'backup'],
  ['復元', 'restore'],
  ['移行', 'migrate migration'],
  ['テスト', 'test'],
  ['アサーション', 'assertion'],
  ['スナップショット', 'snapshot'],
  ['ユーザープール', 'user pool'],
  ['グループ', 'group'],
  ['ボリューム', 'volume'],
  ['ファイルシステム', 'file system'],
  ['マウント', 'mount'],
  ['ホスト', 'host'],
  ['ゾーン', 'zone'],
  ['レコード', 'record'],
  ['証跡', 'trail'],
  ['パイプ', 'pipe'],
  ['サービス', 'service'],
  ['タスク定義', 'task definition'],
  ['ポート', 'port'],
  ['ヘルスチェック', 'health check'],
  ['リスナー', 'listener'],
  ['ターゲット', 'target'],
];

const BY_LENGTH = [...GLOSSARY_JA_EN].sort((a, b) => b[0].length - a[0].length);

/** The glossary's English for the Japanese words of a text, longest first, and what is left of the text. */
function translate(text: string): { english: string[]; rest: string } {
  let rest = text.normalize('NFKC');
  const english: string[] = [];
  for (const [ja, en] of BY_LENGTH) {
    if (!rest.includes(ja)) continue;
    english.push(en.split(' ')[0] as string);
    rest = rest.split(ja).join(' ');
  }
  return { english, rest };
}

/** What of a text the glossary does not translate: the text with every word it knows blanked out. */
export function untranslatedOf(text: string): string {
  return translate(text).rest;
}

/** The glossary's English for the Japanese words of a text ('' for none). */
export function glossaryEnglishOf(text: string): string {
  return translate(text).english.join(' ');
}

/**
 * The English a Japanese question about English documents can be matched by: its Latin words as written (product
 * and API names: "S3", "Lambda") and the glossary's English for its Japanese words; '' when it has neither.
 */
export function englishOf(question: string): string {
  const { english, rest } = translate(question);
  const latin = segments(rest)
    .filter((s) => s.kind === 'word')
    .map((s) => s.surface);
  return [...latin, ...english].join(' ');
}
