// Every visible string of the console, in zh-CN (the default) and English.
// Elements carry data-i18n="key"; code calls t("key", {name: value}).
// A new feature adds its keys to both tables.

const STORAGE_KEY = "kiosk.lang";
export const LANGS = ["zh-CN", "en"];

const strings = {
  "zh-CN": {
    title: "学历照片采集站",
    mirror: "镜像",
    otherLang: "English",
    cameraHeading: "摄像头",
    state: "状态",
    source: "来源",
    device: "设备",
    format: "格式",
    frameRate: "帧率",
    frameSize: "画面尺寸",
    rotation: "旋转",
    framesTotal: "累计帧数",
    since: "状态开始",
    version: "版本",
    waiting: "等待摄像头画面…",
    disconnected: "与站点断开",
    reconnectingIn: "与站点断开，{s} 秒后重连…",
    connected: "已连接到站点",
    badgeOffline: "与站点断开",
    badgeLive: "已连接",
    badgeDemo: "演示摄像头",
    badgeReplay: "回放",
    badgeReconnecting: "正在重连",
    badgeBusy: "摄像头被占用",
    badgeStarting: "正在启动",
    badgeStopped: "摄像头已停止",
    demoRibbon: "演示摄像头 · 不是真实拍摄画面",
    sourceV4L2: "USB 摄像头",
    sourceDemo: "演示",
    sourceReplay: "回放",
    stateStreaming: "正常出图",
    stateStarting: "正在启动",
    stateReconnecting: "正在重连",
    stateBusy: "被其他程序占用",
    stateStopped: "已停止",
    degrees: "{n}°",
    framingHeading: "取景检查",
    checkFaceCount: "人脸",
    checkFraming: "构图位置",
    checkResolution: "距离（清晰度）",
    checkRoll: "头部摆正",
    checkYaw: "左右转头",
    checkPitch: "抬头低头",
    checkEyesOpen: "睁眼",
    checkMouthClosed: "闭嘴",
    checkExposure: "曝光",
    checkLighting: "光线均匀",
    checkSharpness: "清晰度",
    checkBackground: "背景",
    checkClothing: "服装颜色",
    statusPass: "通过",
    statusWarn: "注意",
    statusFail: "未通过",
    statusSkip: "无法检查",
    verdictWaiting: "等待取景分析…",
    verdictWaitingSub: "画面出来后即开始检查",
    verdictError: "这一帧无法分析",
    verdictErrorSub: "请检查摄像头画面",
    verdictReady: "可以拍摄",
    verdictReadySub: "所有检查均已通过",
    verdictCountdown: "{s} 秒后自动拍摄",
    verdictDone: "倒计时结束",
    verdictHold: "请保持不动",
    verdictHoldSub: "所有检查已通过，保持片刻即可拍摄",
    verdictSkipped: "{name}无法检测：请调整取景",
    verdictFixSub: "{name}",
    verdictFixMore: "{name} · 另有 {n} 项需调整",
    cameraDetails: "摄像头详情",
    guideCrown: "头顶",
    guideEyes: "眼睛",
    capture: "拍照",
    captureKey: "空格键",
    working: "正在生成照片…",
    reviewTitle: "请确认照片",
    reviewManual: "手动拍摄",
    reviewAuto: "自动拍摄",
    reviewTook: "用时 {s} 秒",
    reviewOK: "符合学信网照片标准",
    reviewNotOK: "照片未通过标准检查",
    reviewPhotoAlt: "标准化后的证件照（480×640）",
    retake: "重拍",
    accept: "确认",
    rowPixels: "尺寸",
    rowSize: "文件大小",
    rowQuality: "JPEG 质量",
    rowDensity: "分辨率",
    rowEyeLine: "眼睛位置",
    rowCrown: "头顶位置",
    rowFaceWidth: "脸宽",
    rowCentre: "脸部居中",
    rowBackground: "背景色差",
    rowExposure: "面部亮度",
    refusedTitle: "未能生成照片",
    refusedProof: "照片未达到标准：请调整后重拍",
    refusedFailed: "未通过：{names}",
    backToFraming: "返回取景",
    calibration: "校准",
    calibrated: "已校准",
    notCalibrated: "未校准",
    calibratedAt: "已校准 · {date}",
    driftLabel: "背景漂移",
    drift: "ΔE {d}（{w} 以上建议重新校准）",
    driftWarn: "光线或背景已变化，建议重新校准",
    recalibrate: "建议重新校准",
    calibrate: "校准",
    calibrateConfirm: "请确认拍摄区域无人",
    calibrateConfirmSub: "校准会记录空背景并锁定曝光和白平衡。",
    calibrateNow: "开始校准",
    cancel: "取消",
    calibrating: "正在校准…",
    calibrateDone: "校准完成",
  },
  en: {
    title: "Graduation Photo Station",
    mirror: "Mirror",
    otherLang: "中文",
    cameraHeading: "Camera",
    state: "State",
    source: "Source",
    device: "Device",
    format: "Format",
    frameRate: "Frame rate",
    frameSize: "Frame size",
    rotation: "Rotation",
    framesTotal: "Frames",
    since: "Since",
    version: "Version",
    waiting: "Waiting for the camera…",
    disconnected: "Disconnected from station",
    reconnectingIn: "Disconnected from station, reconnecting in {s} s…",
    connected: "Connected to station",
    badgeOffline: "Disconnected from station",
    badgeLive: "Connected",
    badgeDemo: "Demo camera",
    badgeReplay: "Replay",
    badgeReconnecting: "Reconnecting",
    badgeBusy: "Camera busy",
    badgeStarting: "Starting",
    badgeStopped: "Camera stopped",
    demoRibbon: "Demo camera · not a real capture",
    sourceV4L2: "USB camera",
    sourceDemo: "Demo",
    sourceReplay: "Replay",
    stateStreaming: "Streaming",
    stateStarting: "Starting",
    stateReconnecting: "Reconnecting",
    stateBusy: "Held by another program",
    stateStopped: "Stopped",
    degrees: "{n}°",
    framingHeading: "Framing checks",
    checkFaceCount: "Face",
    checkFraming: "Framing",
    checkResolution: "Distance (resolution)",
    checkRoll: "Head level",
    checkYaw: "Head turn",
    checkPitch: "Chin up/down",
    checkEyesOpen: "Eyes open",
    checkMouthClosed: "Mouth closed",
    checkExposure: "Exposure",
    checkLighting: "Even lighting",
    checkSharpness: "Sharpness",
    checkBackground: "Background",
    checkClothing: "Clothing colour",
    statusPass: "Pass",
    statusWarn: "Check",
    statusFail: "Fail",
    statusSkip: "Not measured",
    verdictWaiting: "Waiting for the framing analysis…",
    verdictWaitingSub: "Checks start as soon as the picture arrives",
    verdictError: "This frame could not be analysed",
    verdictErrorSub: "Check the camera picture",
    verdictReady: "Ready",
    verdictReadySub: "Every check passes",
    verdictCountdown: "Capturing in {s} s",
    verdictDone: "Countdown finished",
    verdictHold: "Hold still",
    verdictHoldSub: "Every check passes: hold a moment",
    verdictSkipped: "{name} cannot be measured: adjust the framing",
    verdictFixSub: "{name}",
    verdictFixMore: "{name} · {n} more to fix",
    cameraDetails: "Camera details",
    guideCrown: "Crown",
    guideEyes: "Eyes",
    capture: "Capture",
    captureKey: "Space",
    working: "Making the photo…",
    reviewTitle: "Check the photo",
    reviewManual: "Taken by the operator",
    reviewAuto: "Taken automatically",
    reviewTook: "took {s} s",
    reviewOK: "Meets the CHSI photo standard",
    reviewNotOK: "The photo failed the standard's checks",
    reviewPhotoAlt: "The standardized ID photo (480×640)",
    retake: "Retake",
    accept: "Accept",
    rowPixels: "Pixels",
    rowSize: "File size",
    rowQuality: "JPEG quality",
    rowDensity: "Density",
    rowEyeLine: "Eye line",
    rowCrown: "Crown",
    rowFaceWidth: "Face width",
    rowCentre: "Face centre",
    rowBackground: "Background ΔE",
    rowExposure: "Face brightness",
    refusedTitle: "No photo was made",
    refusedProof: "The photo missed the standard: adjust and take it again",
    refusedFailed: "Failed: {names}",
    backToFraming: "Back to framing",
    calibration: "Calibration",
    calibrated: "Calibrated",
    notCalibrated: "Not calibrated",
    calibratedAt: "Calibrated · {date}",
    driftLabel: "Background drift",
    drift: "ΔE {d} (calibrate again above {w})",
    driftWarn: "The light or the background has changed: calibrate again",
    recalibrate: "Calibrate again",
    calibrate: "Calibrate",
    calibrateConfirm: "Make sure the booth is empty",
    calibrateConfirmSub: "Calibration records the empty background and locks exposure and white balance.",
    calibrateNow: "Calibrate now",
    cancel: "Cancel",
    calibrating: "Calibrating…",
    calibrateDone: "Calibrated",
  },
};

const listeners = [];

function stored() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage disabled: fall back to the default
  }
}

let current = LANGS.includes(stored()) ? stored() : "zh-CN";

// lang returns the current language tag.
export function lang() {
  return current;
}

// t returns the string for key in the current language, with {name}
// placeholders filled from vars.
export function t(key, vars) {
  const s = strings[current][key] ?? strings["zh-CN"][key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(vars?.[k] ?? ""));
}

// apply fills every element with a data-i18n attribute and sets <html lang>.
export function apply(root = document) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
}

// setLang switches the language, remembers it, and re-renders.
export function setLang(l) {
  if (!LANGS.includes(l)) return;
  current = l;
  try {
    localStorage.setItem(STORAGE_KEY, l);
  } catch {
    // not remembered; still switched
  }
  apply();
  for (const fn of listeners) fn(l);
}

// onChange calls fn with the new language after every switch.
export function onChange(fn) {
  listeners.push(fn);
}
